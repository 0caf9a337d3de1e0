#!/usr/bin/env python3
"""Trains scikit-learn's MLPClassifier on the digits split and prints one JSON line.

    .venv/bin/python Benchmarks/sklearn_train.py --epochs 40 --lr 0.002

The peer of `starling model train --arch mlp:128,64 --scale divide:16 --batch-size 32`:
hidden layers (128, 64) with ReLU, Adam at the same learning rate, batch 32, the same number
of epochs (tol = 0 and n_iter_no_change > epochs, so it never stops early), no L2 penalty
(alpha = 0, as Starling's default weight decay is 0), features divided by 16. The training and
test rows are those of data/digits_dirichlet05_20clients.json. `fit_s` times `fit` alone.
"""

import argparse
import json
import pathlib
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

REPO = pathlib.Path(__file__).resolve().parents[1]


def load(split_path):
    table = np.loadtxt(REPO / "data" / "digits.csv", delimiter=",", skiprows=1, dtype=np.float64)
    x, y = table[:, :-1] / 16.0, table[:, -1].astype(int)
    split = json.loads(pathlib.Path(split_path).read_text())
    train, test = split["train_indices"], split["test_indices"]
    return x[train], y[train], x[test], y[test]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--lr", type=float, default=0.002)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--split", default=str(REPO / "data" / "digits_dirichlet05_20clients.json"))
    args = parser.parse_args()

    x_train, y_train, x_test, y_test = load(args.split)
    model = MLPClassifier(
        hidden_layer_sizes=(128, 64),
        activation="relu",
        solver="adam",
        alpha=0.0,
        batch_size=args.batch_size,
        learning_rate_init=args.lr,
        max_iter=args.epochs,
        tol=0.0,
        n_iter_no_change=args.epochs + 1,
        shuffle=True,
        random_state=args.seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter reached is the point
        start = time.perf_counter()
        model.fit(x_train, y_train)
        fit_s = time.perf_counter() - start
    result = {
        "fit_s": fit_s,
        "epochs": int(model.n_iter_),
        "train_rows": len(y_train),
        "test_rows": len(y_test),
        "test_accuracy": float(model.score(x_test, y_test)),
    }
    print(json.dumps(result, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
