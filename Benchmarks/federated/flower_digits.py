#!/usr/bin/env python3
"""Flower 1.42 FedAvg on the digits split, the peer of `starling simulate federated`.

Numpy clients train the same model with plain SGD and softmax cross-entropy; the server is
Flower's own FedAvg strategy (its `aggregate_fit`, called in-process: no Ray, no gRPC). To
make the two curves comparable round by round, this script starts from Starling's initial
parameters (`starling simulate federated --init-out FILE`) and draws the same mini-batches:
Starling's RandomSource (xoshiro256** seeded by splitmix64, Lemire's bounded integers as
Swift's `next(upperBound:)` computes them, Fisher-Yates) is ported below, and each client's
shuffling seed per round is `SimulationConfiguration.trainingSeed`.

    python flower_digits.py --data data/digits.csv --partition data/digits_dirichlet05_20clients.json \
        --model mlp --init init.json --rounds 30 --json flower.json [--compare starling.json]
"""
import argparse
import json
import sys
import time

import numpy as np

M64 = (1 << 64) - 1


class RandomSource:
    """Starling's RandomSource: xoshiro256** seeded with splitmix64."""

    def __init__(self, seed):
        sm = seed & M64
        state = []
        for _ in range(4):
            sm = (sm + 0x9E3779B97F4A7C15) & M64
            z = sm
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            state.append(z ^ (z >> 31))
        self.s = state

    @staticmethod
    def _rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & M64

    def next(self):
        s0, s1, s2, s3 = self.s
        result = (self._rotl((s1 * 5) & M64, 7) * 9) & M64
        t = (s1 << 17) & M64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = self._rotl(s3, 45)
        self.s = [s0, s1, s2, s3]
        return result

    def below(self, bound):
        """Swift's `next(upperBound:)`: the high word of random * bound, rejecting the biased low words."""
        m = self.next() * bound
        if (m & M64) < bound:
            t = ((1 << 64) - bound) % bound
            while (m & M64) < t:
                m = self.next() * bound
        return m >> 64

    def permutation(self, n):
        order = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.below(i + 1)
            order[i], order[j] = order[j], order[i]
        return order


def training_seed(seed, rnd, client):
    return ((seed << 32) ^ (rnd << 16) ^ client) & M64


# MARK: - the model (weights [out, in] as Starling stores them)


def forward(params, x):
    """Logits and the hidden pre-activations (for the backward pass)."""
    hidden = []
    a = x
    layers = len(params) // 2
    for k in range(layers):
        w, b = params[2 * k], params[2 * k + 1]
        z = a @ w.T + b
        if k < layers - 1:
            hidden.append((a, z))
            a = np.maximum(z, np.float32(0))
        else:
            hidden.append((a, None))
            return z, hidden


def softmax_ce(logits, labels):
    top = logits.max(axis=1, keepdims=True)
    e = np.exp(logits - top)
    s = e.sum(axis=1, keepdims=True)
    n = logits.shape[0]
    loss = float(np.mean(np.log(s[:, 0]) + top[:, 0] - logits[np.arange(n), labels]))
    grad = e / (s * np.float32(n))
    grad[np.arange(n), labels] -= np.float32(1.0 / n)
    return loss, grad.astype(np.float32)


def sgd_step(params, x, y, lr):
    logits, hidden = forward(params, x)
    loss, g = softmax_ce(logits, y)
    grads = [None] * len(params)
    for k in range(len(params) // 2 - 1, -1, -1):
        a_in, _ = hidden[k]
        grads[2 * k] = g.T @ a_in
        grads[2 * k + 1] = g.sum(axis=0)
        if k > 0:
            g = (g @ params[2 * k]) * (hidden[k - 1][1] > 0)
    lr = np.float32(lr)
    return [(p - lr * d).astype(np.float32) for p, d in zip(params, grads)], loss


def evaluate(params, x, y):
    logits, _ = forward(params, x)
    loss, _ = softmax_ce(logits, y)
    return float(np.mean(logits.argmax(axis=1) == y)), loss


def fit(params, x, y, epochs, batch, lr, seed):
    random = RandomSource(seed)
    params = [p.copy() for p in params]
    for _ in range(epochs):
        order = random.permutation(len(y))
        for start in range(0, len(y), batch):
            idx = order[start:start + batch]
            params, _ = sgd_step(params, x[idx], y[idx], lr)
    return params


# MARK: - data, initial parameters


def load(args):
    table = np.loadtxt(args.data, delimiter=",", skiprows=1, dtype=np.float64)
    x = (table[:, :-1] / 16.0).astype(np.float32)
    y = table[:, -1].astype(np.int64)
    with open(args.partition) as f:
        split = json.load(f)
    ids = sorted(split["clients"], key=lambda k: int(k) if k.isdigit() else k)
    if args.clients:
        ids = ids[:args.clients]
    clients = [(x[split["clients"][i]], y[split["clients"][i]]) for i in ids]
    test = split["test_indices"]
    return clients, (x[test], y[test])


def initial(args, inputs, classes):
    if args.init:
        with open(args.init) as f:
            spec = json.load(f)
        return [np.array(t["values"], dtype=np.float32).reshape(t["shape"]) for t in spec["tensors"]]
    widths = [inputs] + ([64] if args.model == "mlp" else []) + [classes]
    rng = np.random.default_rng(args.seed)
    params = []
    for fan_in, fan_out in zip(widths, widths[1:]):
        limit = np.sqrt(6 / (fan_in + fan_out)) if args.model == "mlp" else 0
        params += [rng.uniform(-limit, limit, (fan_out, fan_in)).astype(np.float32), np.zeros(fan_out, np.float32)]
    return params


# MARK: - Flower's FedAvg


def run(args):
    from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.server.strategy import FedAvg

    clients, (xt, yt) = load(args)
    params = initial(args, xt.shape[1], 10)
    strategy = FedAvg(fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=1, min_evaluate_clients=1,
                      min_available_clients=1, fit_metrics_aggregation_fn=lambda metrics: {})
    rounds = []
    for rnd in range(1, args.rounds + 1):
        started = time.perf_counter()
        results = []
        for c, (x, y) in enumerate(clients):
            trained = fit(params, x, y, args.local_epochs, args.batch, args.lr, training_seed(args.seed, rnd, c))
            res = FitRes(status=Status(code=Code.OK, message=""), parameters=ndarrays_to_parameters(trained),
                         num_examples=len(y), metrics={})
            results.append((None, res))
        aggregated, _ = strategy.aggregate_fit(rnd, results, [])
        params = [a.astype(np.float32) for a in parameters_to_ndarrays(aggregated)]
        acc, loss = evaluate(params, xt, yt)
        size = sum(len(t) for t in aggregated.tensors)
        rounds.append({"round": rnd, "testAccuracy": acc, "testLoss": loss, "bytesPerClientDirection": size,
                       "seconds": time.perf_counter() - started})
        if not args.quiet:
            print(f"round {rnd:3d}  test acc {100 * acc:5.1f} %  loss {loss:.4f}", file=sys.stderr)
    return rounds


def compare(flower, starling_path):
    with open(starling_path) as f:
        starling = {r["round"]: r for r in json.load(f)["rounds"]}
    print(f"{'round':>5}  {'Flower':>7}  {'Starling':>8}  {'diff':>6}")
    worst = 0.0
    for r in flower:
        s = starling.get(r["round"], {}).get("testAccuracy")
        if s is None:
            continue
        d = round(100 * (s - r["testAccuracy"]), 1) + 0.0
        worst = max(worst, abs(d))
        print(f"{r['round']:5d}  {100 * r['testAccuracy']:6.1f}%  {100 * s:7.1f}%  {d:+6.1f}")
    print(f"largest |diff|: {worst:.1f} points")
    return worst


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="data/digits.csv")
    p.add_argument("--partition", default="data/digits_dirichlet05_20clients.json")
    p.add_argument("--model", choices=["mlp", "logreg"], default="mlp")
    p.add_argument("--init", help="Starling's initial parameters (--init-out); default: own Glorot (mlp) or zeros")
    p.add_argument("--clients", type=int, help="use the first N partitions")
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--local-epochs", type=int, default=2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", help="write the curve here")
    p.add_argument("--compare", help="a `starling simulate federated --json` file to print side by side")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()
    rounds = run(args)
    if args.json:
        import flwr
        with open(args.json, "w") as f:
            json.dump({"peer": f"flwr {flwr.__version__} FedAvg.aggregate_fit, numpy {np.__version__} clients",
                       "settings": {k: v for k, v in vars(args).items() if k not in ("json", "compare", "quiet")},
                       "permutationCheck": RandomSource(42).permutation(10),
                       "rounds": rounds}, f, indent=1)
    if args.compare:
        compare(rounds, args.compare)


if __name__ == "__main__":
    main()
