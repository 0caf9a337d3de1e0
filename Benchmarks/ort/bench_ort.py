#!/usr/bin/env python3
"""Times one ONNX model in ONNX Runtime and prints one JSON line.

    .venv/bin/python Benchmarks/ort/bench_ort.py --case mlp1024.int8.b1024 \
        --model out/bench/mlp1024.int8.onnx --batch 1024 --threads 1

Methodology (the same as `starling-bench`): warm up for --warmup-ms (at least 3 calls), size a
round so it lasts about --round-ms, then time --rounds rounds (fewer if --budget-ms runs
out, never fewer than 5) and report the median time per call over rounds. The input is
uniform in [0, 1), fixed seed, in ONNX layout (NCHW for images).

The session: CPU execution provider, ORT_ENABLE_ALL, intra_op_num_threads = --threads,
inter_op_num_threads = 1, sequential execution; every other option at its default.
"""

import argparse
import json
import statistics
import time

import numpy as np
import onnxruntime as ort


def measure(call, warmup_ms, round_ms, rounds, budget_ms):
    """Median seconds per call, plus the spread and the shape of the measurement."""
    now = time.perf_counter
    warm = []
    start = now()
    while len(warm) < 3 or now() - start < warmup_ms / 1e3:
        t = now()
        call()
        warm.append(now() - t)
    per_call = statistics.median(warm[len(warm) // 2 :])
    calls = max(1, round(round_ms / 1e3 / per_call))
    samples = []
    start = now()
    while len(samples) < rounds:
        t = now()
        for _ in range(calls):
            call()
        samples.append((now() - t) / calls)
        if len(samples) >= 5 and now() - start > budget_ms / 1e3:
            break
    samples.sort()
    return {
        "median_s": statistics.median(samples),
        "min_s": samples[0],
        "p90_s": samples[min(len(samples) - 1, int(0.9 * len(samples)))],
        "rounds": len(samples),
        "calls_per_round": calls,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup-ms", type=float, default=300)
    parser.add_argument("--round-ms", type=float, default=40)
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--budget-ms", type=float, default=4000)
    args = parser.parse_args()

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    spec = session.get_inputs()[0]
    shape = [args.batch] + [int(d) for d in spec.shape[1:]]
    x = np.random.default_rng(7).random(shape, dtype=np.float32)
    feeds = {spec.name: x}
    outputs = [session.get_outputs()[0].name]

    result = measure(lambda: session.run(outputs, feeds), args.warmup_ms, args.round_ms, args.rounds, args.budget_ms)
    result.update(
        {
            "case": args.case,
            "side": "ort",
            "model": args.model,
            "batch": args.batch,
            "threads": args.threads,
            "backend": "ort-" + ort.__version__,
            "samples_per_s": args.batch / result["median_s"],
            "us_per_call": result["median_s"] * 1e6,
        }
    )
    print(json.dumps(result, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
