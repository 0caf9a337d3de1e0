#!/usr/bin/env python3
"""Builds the benchmark models as ONNX files that both ONNX Runtime and Starling load.

    .venv/bin/python Benchmarks/ort/make_models.py out/bench

Every model exists in float32 (`<name>.fp32.onnx`) and as a static QDQ int8 model made by
ONNX Runtime's own quantizer (`<name>.int8.onnx`: per-channel int8 weights, uint8
activations, MinMax calibration on random inputs). Both runtimes therefore run the same
weights and the same quantization parameters. Weights and inputs come from numpy generators
with fixed seeds, so the files are the same on every run.

Beside the models:
- `cnn_conv1` / `cnn_conv2`: the CNN's two conv + ReLU + pool blocks alone (own weights), to see
  where time goes;
- `identity<N>.onnx`: a single Identity node with an N-float input, to measure what one
  `InferenceSession.run` call costs from Python;
- `<name>.<fp32|int8>.check.in.bin` / `.check.out.bin`: a small input batch (float32, ONNX
  layout) and ORT's output for it, so that Starling's benchmark can check it computes the same;
- `models.json`: per model, the input shape per sample and the check batch size.
"""

import json
import logging
import pathlib
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

OPSET = 13
CALIBRATION_SAMPLES = 64
CHECK_BATCH = 8


def he(rng, shape, fan_in):
    """He-normal weights, so that ReLU activations keep a sensible range through the layers."""
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)


def constant(name, array):
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name=name)


def finish(graph):
    opsets = [helper.make_opsetid("", OPSET)]
    model = helper.make_model(
        graph, opset_imports=opsets, producer_name="starling bench", ir_version=helper.find_min_ir_version_for(opsets)
    )
    onnx.checker.check_model(model, full_check=True)
    return model


# MARK: - Models


def mlp(name, widths, seed):
    """Gemm (+ReLU) layers; the last one writes logits. Weights are [out, in] with transB=1,
    the layout PyTorch exports."""
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    x = "input"
    for i, (fan_in, fan_out) in enumerate(zip(widths, widths[1:])):
        last = i == len(widths) - 2
        inits += [constant(f"w{i}", he(rng, (fan_out, fan_in), fan_in)), constant(f"b{i}", rng.standard_normal(fan_out) * 0.01)]
        y = "logits" if last else f"gemm{i}"
        nodes.append(helper.make_node("Gemm", [x, f"w{i}", f"b{i}"], [y], name=f"dense{i}", transB=1))
        if not last:
            nodes.append(helper.make_node("Relu", [y], [f"relu{i}"], name=f"relu{i}"))
            y = f"relu{i}"
        x = y
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", widths[0]])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", widths[-1]])],
        inits,
    )
    return finish(graph), [widths[0]]


def fedavg_cnn(seed):
    """McMahan et al.'s FedAvg CNN on 28x28x1 (NCHW): conv5x5 32 same, pool 2, conv5x5 64 same,
    pool 2, dense 512, dense 10; ReLU after every hidden layer."""
    rng = np.random.default_rng(seed)
    inits = [
        constant("c1.w", he(rng, (32, 1, 5, 5), 25)),
        constant("c1.b", rng.standard_normal(32) * 0.01),
        constant("c2.w", he(rng, (64, 32, 5, 5), 800)),
        constant("c2.b", rng.standard_normal(64) * 0.01),
        constant("d1.w", he(rng, (512, 3136), 3136)),
        constant("d1.b", rng.standard_normal(512) * 0.01),
        constant("d2.w", he(rng, (10, 512), 512)),
        constant("d2.b", rng.standard_normal(10) * 0.01),
        numpy_helper.from_array(np.array([0, 3136], dtype=np.int64), name="flat_shape"),
    ]
    conv = dict(kernel_shape=[5, 5], pads=[2, 2, 2, 2], strides=[1, 1])
    pool = dict(kernel_shape=[2, 2], strides=[2, 2])
    nodes = [
        helper.make_node("Conv", ["input", "c1.w", "c1.b"], ["c1"], name="conv1", **conv),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", **pool),
        helper.make_node("Conv", ["p1", "c2.w", "c2.b"], ["c2"], name="conv2", **conv),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("MaxPool", ["r2"], ["p2"], name="pool2", **pool),
        helper.make_node("Reshape", ["p2", "flat_shape"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "d1.w", "d1.b"], ["d1"], name="dense1", transB=1),
        helper.make_node("Relu", ["d1"], ["r3"], name="relu3"),
        helper.make_node("Gemm", ["r3", "d2.w", "d2.b"], ["logits"], name="dense2", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "fedavg_cnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        inits,
    )
    return finish(graph), [1, 28, 28]


def conv_block(name, channels, size, filters, seed):
    """One layer of the CNN alone: conv5x5 'same' + ReLU + max-pool 2, for a per-layer look."""
    rng = np.random.default_rng(seed)
    inits = [
        constant("w", he(rng, (filters, channels, 5, 5), channels * 25)),
        constant("b", rng.standard_normal(filters) * 0.01),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "w", "b"], ["c"], name="conv", kernel_shape=[5, 5], pads=[2, 2, 2, 2]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("MaxPool", ["r"], ["pooled"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
    ]
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", channels, size, size])],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["N", filters, size // 2, size // 2])],
        inits,
    )
    return finish(graph), [channels, size, size]


def identity(size):
    graph = helper.make_graph(
        [helper.make_node("Identity", ["input"], ["output"], name="identity")],
        f"identity{size}",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", size])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", size])],
    )
    return finish(graph)


# MARK: - Quantization


class RandomInputs(CalibrationDataReader):
    """Calibration batches of one sample each, uniform in [0, 1) like scaled pixels."""

    def __init__(self, shape, seed):
        rng = np.random.default_rng(seed)
        self.batches = iter([{"input": rng.random([1] + shape, dtype=np.float32)} for _ in range(CALIBRATION_SAMPLES)])

    def get_next(self):
        return next(self.batches, None)


def quantize(fp32_path, int8_path, shape, seed):
    quantize_static(
        str(fp32_path),
        str(int8_path),
        RandomInputs(shape, seed),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=ort.quantization.CalibrationMethod.MinMax,
    )


def write_check(model_path, shape, seed):
    """Runs ORT once on a fixed batch and stores input and output for Starling's check."""
    rng = np.random.default_rng(seed)
    x = rng.random([CHECK_BATCH] + shape, dtype=np.float32)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"input": x})
    stem = str(model_path)[: -len(".onnx")]
    x.tofile(stem + ".check.in.bin")
    np.asarray(y, dtype=np.float32).tofile(stem + ".check.out.bin")


def main():
    logging.getLogger().setLevel(logging.ERROR)  # the quantizer suggests pre-processing; these graphs need none
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "out/bench")
    out.mkdir(parents=True, exist_ok=True)
    models = {
        "mlp1024": mlp("mlp1024", [1024, 1024, 1024, 10], seed=1),
        "digits": mlp("digits", [64, 128, 64, 10], seed=2),
        "cnn": fedavg_cnn(seed=3),
        "cnn_conv1": conv_block("cnn_conv1", 1, 28, 32, seed=4),
        "cnn_conv2": conv_block("cnn_conv2", 32, 14, 64, seed=5),
    }
    index = {}
    for seed, (name, (model, shape)) in enumerate(models.items(), start=100):
        fp32 = out / f"{name}.fp32.onnx"
        int8 = out / f"{name}.int8.onnx"
        onnx.save(model, str(fp32))
        quantize(fp32, int8, shape, seed)
        for path in (fp32, int8):
            write_check(path, shape, seed + 1000)
        ops = sorted({n.op_type for n in onnx.load(str(int8)).graph.node})
        index[name] = {"input_shape": shape, "check_batch": CHECK_BATCH, "int8_ops": ops}
        print(f"{name}: {fp32.name}, {int8.name} ({', '.join(ops)})", file=sys.stderr)
    for size in (1024, 64):
        onnx.save(identity(size), str(out / f"identity{size}.onnx"))
    (out / "models.json").write_text(json.dumps(index, indent=2) + "\n")


if __name__ == "__main__":
    main()
