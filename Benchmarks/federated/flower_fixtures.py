"""Reference values for Starling's federated strategies, computed by Flower 1.42 itself.

Calls each Flower strategy's aggregate_fit in-process (FitRes objects, no simulation) for a few
rounds on small random vectors, and Google's dp-accounting RdpAccountant for the accountant, and
writes JSON to Tests/CoreTests/Fixtures/federation/. Starling's updates are deltas; Flower's
inputs are the trained weights global + delta (both are stored).

    python3 -m venv /tmp/flwr-venv
    /tmp/flwr-venv/bin/pip install flwr==1.42.0 numpy dp-accounting
    /tmp/flwr-venv/bin/python Benchmarks/federated/flower_fixtures.py
"""

import importlib.metadata
import json
import os
import sys

import numpy as np
import flwr
from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays
from flwr.server import strategy as st

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "CoreTests", "Fixtures", "federation")
SHAPES = [(4, 3), (8,)]  # two tensors, 20 parameters
CLIENTS = 6
EXAMPLES = [10, 25, 7, 40, 13, 31]


def flat(arrays):
    return np.concatenate([a.ravel() for a in arrays]).astype(np.float64)


def split(vector):
    out, at = [], 0
    for shape in SHAPES:
        n = int(np.prod(shape))
        out.append(np.asarray(vector[at:at + n], dtype=np.float32).reshape(shape))
        at += n
    return out


def floats(vector):
    return [float(x) for x in np.asarray(vector, dtype=np.float32)]


def fit_res(weights, examples):
    return FitRes(status=Status(code=Code.OK, message=""), parameters=ndarrays_to_parameters(weights),
                  num_examples=examples, metrics={})


def run(name, strategy, rounds, rng, outlier=False, scale=0.05, after_round=None):
    """Runs `rounds` rounds, each from the previous round's Flower result."""
    size = sum(int(np.prod(s)) for s in SHAPES)
    global_vec = rng.normal(0, 1, size).astype(np.float32)
    records = []
    for r in range(1, rounds + 1):
        if hasattr(strategy, "current_round_params"):
            strategy.current_round_params = split(global_vec)
        updates, results = [], []
        for k in range(CLIENTS):
            delta = rng.normal(0, scale * (1 + k % 3), size).astype(np.float32)
            if outlier and k == CLIENTS - 1:
                delta = (delta * 40 + 3).astype(np.float32)
            weights = split(global_vec + delta)
            stored_delta = flat(weights).astype(np.float32) - global_vec  # what the client would send
            updates.append({"client": f"c{k}", "examples": EXAMPLES[k], "delta": floats(stored_delta)})
            results.append((None, fit_res(weights, EXAMPLES[k])))
        params, _ = strategy.aggregate_fit(r, results, [])
        result = flat(parameters_to_ndarrays(params))
        record = {"round": r, "global": floats(global_vec), "updates": updates, "result": [float(x) for x in result]}
        if after_round:
            record.update(after_round(strategy))
        records.append(record)
        global_vec = result.astype(np.float32)
    return records


def write(name, parameters, rounds):
    path = os.path.join(OUT, name + ".json")
    with open(path, "w") as f:
        json.dump({"flower": flwr.__version__, "strategy": name, "parameters": parameters, "rounds": rounds}, f, indent=1)
        f.write("\n")
    print("wrote", os.path.relpath(path))


def initial(rng_seed):
    # FedOpt/FedAvgM need initial_parameters: the same first global `run` draws from this seed.
    size = sum(int(np.prod(s)) for s in SHAPES)
    return ndarrays_to_parameters(split(np.random.default_rng(rng_seed).normal(0, 1, size).astype(np.float32)))


def strategies():
    os.makedirs(OUT, exist_ok=True)
    seed = 1
    write("fedavg", {}, run("fedavg", st.FedAvg(), 2, np.random.default_rng(seed)))
    write("fedprox", {"proximal_mu": 0.1}, run("fedprox", st.FedProx(proximal_mu=0.1), 2, np.random.default_rng(seed)))
    stateful = [
        ("fedavgm", st.FedAvgM, {"server_learning_rate": 0.7, "server_momentum": 0.9}),
        ("fedadam", st.FedAdam, {"eta": 0.1, "eta_l": 0.1, "beta_1": 0.9, "beta_2": 0.99, "tau": 1e-9}),
        ("fedyogi", st.FedYogi, {"eta": 0.01, "eta_l": 0.0316, "beta_1": 0.9, "beta_2": 0.99, "tau": 1e-3}),
        ("fedadagrad", st.FedAdagrad, {"eta": 0.1, "eta_l": 0.1, "tau": 1e-9}),
    ]
    for name, cls, params in stateful:
        strategy = cls(initial_parameters=initial(seed), **params)
        write(name, params, run(name, strategy, 3, np.random.default_rng(seed)))
    write("fedmedian", {}, run("fedmedian", st.FedMedian(), 2, np.random.default_rng(seed), outlier=True))
    write("fedtrimmedavg", {"beta": 0.2},
          run("fedtrimmedavg", st.FedTrimmedAvg(beta=0.2), 2, np.random.default_rng(seed), outlier=True))
    write("krum", {"num_malicious_clients": 1, "num_clients_to_keep": 0},
          run("krum", st.Krum(num_malicious_clients=1, num_clients_to_keep=0), 2, np.random.default_rng(seed), outlier=True))
    write("multikrum", {"num_malicious_clients": 1, "num_clients_to_keep": 3},
          run("multikrum", st.Krum(num_malicious_clients=1, num_clients_to_keep=3), 2, np.random.default_rng(seed),
              outlier=True))


def privacy():
    seed = 2
    fixed = st.DifferentialPrivacyServerSideFixedClipping(st.FedAvg(), noise_multiplier=0.0, clipping_norm=0.2,
                                                          num_sampled_clients=CLIENTS)
    write("dp_fixed", {"noise_multiplier": 0.0, "clipping_norm": 0.2, "num_sampled_clients": CLIENTS},
          run("dp_fixed", fixed, 2, np.random.default_rng(seed), scale=0.05))
    for target in (0.5, 0.2):
        adaptive = st.DifferentialPrivacyServerSideAdaptiveClipping(
            st.FedAvg(), noise_multiplier=0.0, num_sampled_clients=CLIENTS, initial_clipping_norm=0.3,
            target_clipped_quantile=target, clip_norm_lr=0.2)
        write(f"dp_adaptive_q{int(target * 10)}",
              {"noise_multiplier": 0.0, "num_sampled_clients": CLIENTS, "initial_clipping_norm": 0.3,
               "target_clipped_quantile": target, "clip_norm_lr": 0.2},
              run("dp_adaptive", adaptive, 4, np.random.default_rng(seed), scale=0.05,
                  after_round=lambda s: {"clipping_norm": s.clipping_norm}))
    # The noise: Flower's std formula and the empirical std of its noise on many parameters.
    from flwr.supercore import differential_privacy as dp
    np.random.seed(3)
    zeros = [np.zeros(200_000, dtype=np.float32)]
    noised = parameters_to_ndarrays(
        dp.add_gaussian_noise_to_params(ndarrays_to_parameters(zeros), 1.0, 0.5, 6))
    stddev, effective = dp.compute_adaptive_noise_params(1.0, 40, None)
    noise = {"noise_multiplier": 1.0, "clipping_norm": 0.5, "num_sampled_clients": 6,
             "formula_std": dp.compute_stdv(1.0, 0.5, 6), "empirical_std": float(np.std(noised[0].astype(np.float64))),
             "adaptive": {"noise_multiplier": 1.0, "num_sampled_clients": 40, "clipped_count_stddev": stddev,
                          "effective_noise_multiplier": effective}}
    path = os.path.join(OUT, "dp_noise.json")
    with open(path, "w") as f:
        json.dump(noise, f, indent=1)
        f.write("\n")
    print("wrote", os.path.relpath(path))


def accountant():
    import dp_accounting
    from dp_accounting.rdp import rdp_privacy_accountant as rdp
    cases = []
    for q, sigma, steps, delta in [(0.01, 1.1, 1000, 1e-5), (0.1, 0.8, 100, 1e-5), (0.05, 2.0, 500, 1e-6),
                                   (1.0, 5.0, 50, 1e-5), (0.2, 1.0, 30, 1e-5), (0.001, 0.6, 10000, 1e-6)]:
        acc = rdp.RdpAccountant()
        acc.compose(dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma)), steps)
        eps, order = acc.get_epsilon_and_optimal_order(delta)
        orders = [1.5, 2.0, 3.7, 8.0, 32.0, 256.0]
        per_round = rdp._compute_rdp_poisson_subsampled_gaussian(q, sigma, orders)
        cases.append({"sampling_rate": q, "noise_multiplier": sigma, "steps": steps, "delta": delta,
                      "epsilon": float(eps), "order": float(order),
                      "orders": orders, "rdp_per_round": [float(x) if np.isfinite(x) else None for x in per_round]})
    path = os.path.join(OUT, "rdp.json")
    with open(path, "w") as f:
        json.dump({"dp_accounting": importlib.metadata.version("dp-accounting"), "cases": cases}, f, indent=1)
        f.write("\n")
    print("wrote", os.path.relpath(path))


if __name__ == "__main__":
    strategies()
    privacy()
    accountant()
