#!/usr/bin/env python3
"""Times one central training of the digits MLP and prints one JSON line.

    Benchmarks/train_bench.py starling --bin .build/release --epochs 40 --lr 0.002 --threads 1
    Benchmarks/train_bench.py sklearn --python .venv/bin/python --epochs 40 --lr 0.002 --threads 1

`command_s` is the wall time of the whole command (process start, CSV loading, training,
evaluation, writing the model); `train_s` is the training itself as the command reports it
(Starling's `--json` `seconds`; scikit-learn's `fit`). With --threads 1 the command is pinned
to one CPU (--cpu, taskset) and BLAS is limited to one thread.
"""

import argparse
import json
import os
import pathlib
import subprocess
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "digits.csv"
SPLIT = REPO / "data" / "digits_dirichlet05_20clients.json"


def run(command, threads, cpu):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    if threads == 1:
        command = ["taskset", "-c", str(cpu)] + command
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, json.loads(done.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("side", choices=["starling", "sklearn"])
    parser.add_argument("--bin", help="directory of the release `starling` binary")
    parser.add_argument("--python", help="the Python with scikit-learn")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--lr", type=float, default=0.002)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cpu", type=int, default=1, help="the CPU a 1-thread run is pinned to")
    args = parser.parse_args()
    common = ["--epochs", str(args.epochs), "--lr", str(args.lr), "--batch-size", "32", "--seed", str(args.seed)]

    if args.side == "starling":
        with tempfile.TemporaryDirectory() as scratch:
            command = [
                str(pathlib.Path(args.bin) / "starling"), "model", "train",
                "--data", str(DATA), "--label", "label", "--split", str(SPLIT),
                "--arch", "mlp:128,64", "--scale", "divide:16", *common,
                "--quiet", "--json", "--out", str(pathlib.Path(scratch) / "digits.starling"),
            ]  # fmt: skip
            command_s, out = run(command, args.threads, args.cpu)
        train_s, accuracy, backend = out["seconds"], out["test"]["accuracy"], "starling"
    else:
        command = [args.python, str(REPO / "Benchmarks" / "sklearn_train.py"), *common, "--split", str(SPLIT)]
        command_s, out = run(command, args.threads, args.cpu)
        import sklearn  # only for the version; the timed process imported its own

        train_s, accuracy, backend = out["fit_s"], out["test_accuracy"], "sklearn-" + sklearn.__version__

    result = {
        "case": "digits.train",
        "side": args.side,
        "threads": args.threads,
        "backend": backend,
        "epochs": args.epochs,
        "lr": args.lr,
        "train_s": train_s,
        "command_s": command_s,
        "test_accuracy": accuracy,
    }
    print(json.dumps(result, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
