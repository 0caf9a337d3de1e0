"""Flower's FedAvg arithmetic (flwr.server.strategy.aggregate.aggregate) over K updates of P
float32 values, the peer of `starling-bench aggregate`. Flower's API takes the round's updates as
one list, so they are all in memory; only the aggregate call is timed. Prints one JSON line.

    /tmp/flwr-venv/bin/python Benchmarks/federated/flower_aggregate.py --updates 1000 --parameters 1000000
"""

import argparse
import json
import resource
import statistics
import time
import tracemalloc

import numpy as np
import flwr
from flwr.server.strategy.aggregate import aggregate


def inputs(k_updates, p):
    # The same deterministic inputs as FederatedAggregationBench.swift, bit for bit.
    i = np.arange(p, dtype=np.int64)
    base = (((i * 2654435761) % 1000003).astype(np.float32) / np.float32(1000003)) - np.float32(0.5)
    results = []
    for k in range(k_updates):
        shift = (7919 * k) % p
        scale = np.float32(1 + k % 5) / np.float32(100)
        results.append(([np.roll(base, -shift) * scale], 1 + k % 17))
    return results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--parameters", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    results = inputs(args.updates, args.parameters)
    inputs_bytes = sum(w[0].nbytes for w, _ in results)
    seconds, cpu = [], []
    for _ in range(args.repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = aggregate(results)
        seconds.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        checksum = float(out[0].astype(np.float64).sum())
        del out
    # One more, untimed, run under tracemalloc for aggregate()'s own peak allocation.
    tracemalloc.start()
    del aggregate(results)[0]
    temporaries = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    mb = 1024 * 1024
    print(json.dumps({
        "section": "aggregate", "side": "flower", "flwr": flwr.__version__, "updates": args.updates,
        "parameters": args.parameters, "seconds": seconds, "median_s": statistics.median(seconds),
        "cpu_seconds": cpu, "median_cpu_s": statistics.median(cpu),
        # Held while aggregating: the round's updates plus aggregate()'s own peak (tracemalloc).
        "inputs_mb": inputs_bytes / mb, "aggregate_peak_mb": temporaries / mb,
        "peak_above_baseline_mb": (inputs_bytes + temporaries) / mb,
        "maxrss_growth_mb": (after - before) / mb, "model_mb": 4 * args.parameters / mb, "checksum": checksum,
    }, sort_keys=True))


if __name__ == "__main__":
    main()
