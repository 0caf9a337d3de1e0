#!/usr/bin/env python3
"""Builds the ~10 MB int8 model of the package benchmark (see run.sh, section "packages").

    .venv/bin/python Benchmarks/package_model.py out/bench

Writes `mlp10m.fp32.onnx` and `mlp10m.int8.onnx`: an MLP 1024-2048-2048-2048-10 (10.5 million
weights, so 10.5 MB as int8) made and quantized exactly like the other benchmark models
(`Benchmarks/ort/make_models.py`: He-normal weights from a fixed seed, ONNX Runtime's
quantize_static, QDQ, per-channel int8 weights).
"""

import logging
import pathlib
import sys

import onnx

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "ort"))
from make_models import mlp, quantize  # noqa: E402

WIDTHS = [1024, 2048, 2048, 2048, 10]


def main():
    logging.getLogger().setLevel(logging.ERROR)
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "out/bench")
    out.mkdir(parents=True, exist_ok=True)
    fp32, int8 = out / "mlp10m.fp32.onnx", out / "mlp10m.int8.onnx"
    if int8.exists() and fp32.exists():
        return  # the same seed gives the same files
    model, shape = mlp("mlp10m", WIDTHS, seed=11)
    onnx.save(model, str(fp32))
    quantize(fp32, int8, shape, seed=111)
    print(f"mlp10m: {fp32.name} ({fp32.stat().st_size:,} B), {int8.name} ({int8.stat().st_size:,} B)", file=sys.stderr)


if __name__ == "__main__":
    main()
