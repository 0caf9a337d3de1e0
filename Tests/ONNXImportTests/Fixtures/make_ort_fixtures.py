#!/usr/bin/env python3
"""Regenerates the ONNX Runtime reference cases in ort/ (see README.md beside this file).

Each case is `ort/<case>/model.onnx` plus `ort/<case>/test_data_set_0/input_N.pb` and
`output_N.pb` (serialized onnx.TensorProto with raw_data), the layout of ONNX's own backend
test cases. Expected outputs are what ONNX Runtime returns on this machine. Weights and
inputs come from numpy generators with fixed seeds; the versions used are written to
ort/VERSIONS.txt together with the op types of every graph.

    python3 -m venv .venv
    .venv/bin/pip install onnx onnxruntime numpy scikit-learn skl2onnx
    .venv/bin/python Tests/ONNXImportTests/Fixtures/make_ort_fixtures.py
"""

import collections
import pathlib
import platform
import shutil
import sys
import tempfile
import warnings

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_static,
)

FIXTURES = pathlib.Path(__file__).resolve().parent
OUT = FIXTURES / "ort"
REPO = FIXTURES.parents[2]
DIGITS_CSV = REPO / "data" / "digits.csv"

OPSET = 13
# Optimization level of the sessions that compute expected outputs. For QDQ models ORT_ENABLE_ALL
# fuses DequantizeLinear -> op -> QuantizeLinear into integer kernels (QLinearConv, QGemm, ...),
# which is what an int8 runtime computes; ORT_ENABLE_BASIC would run the float op on
# dequantized values instead. VERSIONS.txt records how far apart the two are.
GRAPH_OPTIMIZATION = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
CALIBRATION_SAMPLES = 32
CALIBRATION_SEED = 1234

versions_log = []  # lines for VERSIONS.txt, one section per case


# MARK: - Helpers


def rng_for(name):
    """A generator whose seed depends only on the case name, so cases don't shift each other."""
    return np.random.default_rng(sum((i + 1) * ord(c) for i, c in enumerate(name)))


def he(rng, shape, fan_in):
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)


def small(rng, shape, scale=0.1):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def init(name, array):
    return numpy_helper.from_array(np.asarray(array), name=name)


def finish_model(graph, opsets=None):
    opsets = opsets or [helper.make_opsetid("", OPSET)]
    model = helper.make_model(
        graph,
        opset_imports=opsets,
        producer_name="starling make_ort_fixtures.py",
        ir_version=helper.find_min_ir_version_for(opsets),
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def session(model, level=None):
    options = ort.SessionOptions()
    options.graph_optimization_level = level if level is not None else GRAPH_OPTIMIZATION
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def run(model, inputs, level=None):
    sess = session(model, level)
    feed = {i.name: x for i, x in zip(sess.get_inputs(), inputs)}
    return sess.run([o.name for o in sess.get_outputs()], feed)


def op_summary(model):
    """Op types in graph order with counts, e.g. `Gemm x3, Relu x2`; other domains prefixed."""
    counts = collections.OrderedDict()
    for node in model.graph.node:
        key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{k} x{v}" if v > 1 else k for k, v in counts.items())


def opset_summary(model):
    return ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in model.opset_import)


def save_case(name, model, inputs, notes=()):
    outputs = run(model, inputs)
    case = OUT / name
    data = case / "test_data_set_0"
    data.mkdir(parents=True)
    onnx.save(model, case / "model.onnx")
    for i, (info, x) in enumerate(zip(model.graph.input, inputs)):
        tensor = numpy_helper.from_array(x, name=info.name)
        (data / f"input_{i}.pb").write_bytes(tensor.SerializeToString())
    for i, (info, y) in enumerate(zip(model.graph.output, outputs)):
        tensor = numpy_helper.from_array(np.asarray(y), name=info.name)
        (data / f"output_{i}.pb").write_bytes(tensor.SerializeToString())

    versions_log.append(f"[{name}]")
    versions_log.append(f"opsets: {opset_summary(model)}; ir_version {model.ir_version}")
    versions_log.append(f"ops: {op_summary(model)}")
    for info, x in zip(model.graph.input, inputs):
        versions_log.append(f"input {info.name}: {x.dtype} {list(x.shape)}")
    for info, y in zip(model.graph.output, outputs):
        y = np.asarray(y)
        versions_log.append(f"output {info.name}: {y.dtype} {list(y.shape)}")
    versions_log.extend(notes)
    versions_log.append("")
    return outputs


# MARK: - Float models


def mlp_gemm():
    """64 -> 128 -> 64 -> 10, Gemm(transB=1) + Relu, then Softmax."""
    rng = rng_for("mlp_gemm")
    sizes = [64, 128, 64, 10]
    inits, nodes, x = [], [], "input"
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        inits += [init(f"fc{i + 1}.weight", he(rng, (n_out, n_in), n_in)),
                  init(f"fc{i + 1}.bias", small(rng, (n_out,)))]
        y = f"fc{i + 1}"
        nodes.append(helper.make_node(
            "Gemm", [x, f"fc{i + 1}.weight", f"fc{i + 1}.bias"], [y], name=f"fc{i + 1}", transB=1))
        x = y
        if i < len(sizes) - 2:
            nodes.append(helper.make_node("Relu", [x], [f"{x}.relu"], name=f"relu{i + 1}"))
            x = f"{x}.relu"
    nodes.append(helper.make_node("Softmax", [x], ["probabilities"], name="softmax", axis=-1))
    graph = helper.make_graph(
        nodes, "mlp_gemm",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 10])],
        inits)
    return finish_model(graph)


def mlp_inputs(rng, n):
    return rng.standard_normal((n, 64)).astype(np.float32)


def mlp_matmul():
    """Keras/tf2onnx-style Dense layers: MatMul + Add, activations Relu, Relu, Tanh, Sigmoid."""
    rng = rng_for("mlp_matmul")
    layers = [(32, 64, "Relu"), (64, 64, "Relu"), (64, 32, "Tanh"), (32, 5, "Sigmoid")]
    inits, nodes, x = [], [], "input"
    for i, (n_in, n_out, act) in enumerate(layers):
        p = "dense" if i == 0 else f"dense_{i}"
        inits += [init(f"{p}/kernel", he(rng, (n_in, n_out), n_in)),
                  init(f"{p}/bias", small(rng, (n_out,)))]
        nodes += [
            helper.make_node("MatMul", [x, f"{p}/kernel"], [f"{p}/MatMul:0"], name=f"{p}/MatMul"),
            helper.make_node("Add", [f"{p}/MatMul:0", f"{p}/bias"], [f"{p}/BiasAdd:0"],
                             name=f"{p}/BiasAdd"),
        ]
        out = "scores" if i == len(layers) - 1 else f"{p}/{act}:0"
        nodes.append(helper.make_node(act, [f"{p}/BiasAdd:0"], [out], name=f"{p}/{act}"))
        x = out
    graph = helper.make_graph(
        nodes, "mlp_matmul",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 32])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 5])],
        inits)
    return finish_model(graph)


def cnn(name, hidden, dense_op):
    """The FedAvg paper CNN (McMahan et al. 2017) on 1x28x28 NCHW input.

    dense_op "Gemm" gives Gemm(transB=1) layers; "MatMul" gives MatMul + Add (weights [in, out]).
    """
    rng = rng_for(name)
    inits = [
        init("conv1.weight", he(rng, (32, 1, 5, 5), 25)),
        init("conv1.bias", small(rng, (32,))),
        init("conv2.weight", he(rng, (64, 32, 5, 5), 32 * 25)),
        init("conv2.bias", small(rng, (64,))),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "conv1.weight", "conv1.bias"], ["conv1"], name="conv1",
                         kernel_shape=[5, 5], pads=[2, 2, 2, 2]),
        helper.make_node("Relu", ["conv1"], ["relu1"], name="relu1"),
        helper.make_node("MaxPool", ["relu1"], ["pool1"], name="pool1",
                         kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["pool1", "conv2.weight", "conv2.bias"], ["conv2"], name="conv2",
                         kernel_shape=[5, 5], pads=[2, 2, 2, 2]),
        helper.make_node("Relu", ["conv2"], ["relu2"], name="relu2"),
        helper.make_node("MaxPool", ["relu2"], ["pool2"], name="pool2",
                         kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["pool2"], ["flat"], name="flatten", axis=1),
    ]
    x = "flat"
    for i, (n_in, n_out) in enumerate([(64 * 7 * 7, hidden), (hidden, 10)]):
        w, b, y = f"fc{i + 1}.weight", f"fc{i + 1}.bias", ("logits" if i == 1 else f"fc{i + 1}")
        if dense_op == "Gemm":
            inits += [init(w, he(rng, (n_out, n_in), n_in)), init(b, small(rng, (n_out,)))]
            nodes.append(helper.make_node("Gemm", [x, w, b], [y], name=f"fc{i + 1}", transB=1))
        else:
            inits += [init(w, he(rng, (n_in, n_out), n_in)), init(b, small(rng, (n_out,)))]
            nodes += [
                helper.make_node("MatMul", [x, w], [f"fc{i + 1}.matmul"], name=f"fc{i + 1}.matmul"),
                helper.make_node("Add", [f"fc{i + 1}.matmul", b], [y], name=f"fc{i + 1}.add"),
            ]
        if i == 0:
            nodes.append(helper.make_node("Relu", [y], ["relu3"], name="relu3"))
            x = "relu3"
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 1, 28, 28])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        inits)
    return finish_model(graph)


def cnn_inputs(rng, n):
    return rng.random((n, 1, 28, 28), dtype=np.float32)


def cnn_misc():
    """Strided conv with asymmetric pads, BatchNorm, a depthwise residual block, both AveragePool
    padding modes, GlobalAveragePool and a Reshape to [-1, 16]."""
    rng = rng_for("cnn_misc")

    def bn(prefix, c):
        return [
            init(f"{prefix}.scale", (1.0 + small(rng, (c,))).astype(np.float32)),
            init(f"{prefix}.bias", small(rng, (c,))),
            init(f"{prefix}.mean", small(rng, (c,), 0.2)),
            init(f"{prefix}.var", rng.uniform(0.5, 1.5, c).astype(np.float32)),
        ]

    def bn_node(prefix, x, y):
        return helper.make_node(
            "BatchNormalization",
            [x, f"{prefix}.scale", f"{prefix}.bias", f"{prefix}.mean", f"{prefix}.var"], [y],
            name=prefix, epsilon=1e-3)

    inits = [
        init("stem.weight", he(rng, (8, 3, 3, 3), 27)),
        init("stem.bias", small(rng, (8,))),
        *bn("stem.bn", 8),
        init("dw.weight", he(rng, (8, 1, 3, 3), 9)),
        init("dw.bias", small(rng, (8,))),
        *bn("dw.bn", 8),
        init("pw.weight", he(rng, (8, 8, 1, 1), 8)),
        init("pw.bias", small(rng, (8,))),
        init("expand.weight", he(rng, (16, 8, 1, 1), 8)),
        init("expand.bias", small(rng, (16,))),
        init("flat_shape", np.array([-1, 16], dtype=np.int64)),
        init("head.weight", he(rng, (4, 16), 16)),
        init("head.bias", small(rng, (4,))),
    ]
    nodes = [
        # [N,3,16,16] -> [N,8,8,8]: stride 2, pads (top, left, bottom, right) = (0, 0, 1, 1).
        helper.make_node("Conv", ["input", "stem.weight", "stem.bias"], ["stem"], name="stem",
                         kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1]),
        bn_node("stem.bn", "stem", "stem.bn"),
        helper.make_node("Relu", ["stem.bn"], ["stem.relu"], name="stem.relu"),
        # Residual branch: depthwise 3x3 (group = channels) + BN + Relu + pointwise 1x1.
        helper.make_node("Conv", ["stem.relu", "dw.weight", "dw.bias"], ["dw"], name="dw",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=8),
        bn_node("dw.bn", "dw", "dw.bn"),
        helper.make_node("Relu", ["dw.bn"], ["dw.relu"], name="dw.relu"),
        helper.make_node("Conv", ["dw.relu", "pw.weight", "pw.bias"], ["pw"], name="pw",
                         kernel_shape=[1, 1]),
        helper.make_node("Add", ["stem.relu", "pw"], ["residual"], name="residual"),
        helper.make_node("Relu", ["residual"], ["residual.relu"], name="residual.relu"),
        # [N,8,8,8] -> [N,8,8,8], padding counted in the divisor.
        helper.make_node("AveragePool", ["residual.relu"], ["avg1"], name="avg1",
                         kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1],
                         count_include_pad=1),
        # [N,8,8,8] -> [N,8,4,4], padding not counted.
        helper.make_node("AveragePool", ["avg1"], ["avg2"], name="avg2",
                         kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                         count_include_pad=0),
        helper.make_node("Conv", ["avg2", "expand.weight", "expand.bias"], ["expand"],
                         name="expand", kernel_shape=[1, 1]),
        helper.make_node("Relu", ["expand"], ["expand.relu"], name="expand.relu"),
        helper.make_node("GlobalAveragePool", ["expand.relu"], ["gap"], name="gap"),
        helper.make_node("Reshape", ["gap", "flat_shape"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "head.weight", "head.bias"], ["logits"], name="head",
                         transB=1),
    ]
    graph = helper.make_graph(
        nodes, "cnn_misc",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 16, 16])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 4])],
        inits)
    return finish_model(graph)


def mlp_qoperator_float():
    """mlp_gemm's layer sizes as MatMul + Add + Relu, no Softmax (logits out)."""
    rng = rng_for("mlp_qoperator")
    sizes = [64, 128, 64, 10]
    inits, nodes, x = [], [], "input"
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        w, b = f"fc{i + 1}.weight", f"fc{i + 1}.bias"
        inits += [init(w, he(rng, (n_in, n_out), n_in)), init(b, small(rng, (n_out,)))]
        y = "logits" if i == len(sizes) - 2 else f"fc{i + 1}"
        nodes += [
            helper.make_node("MatMul", [x, w], [f"fc{i + 1}.matmul"], name=f"fc{i + 1}.matmul"),
            helper.make_node("Add", [f"fc{i + 1}.matmul", b], [y], name=f"fc{i + 1}.add"),
        ]
        x = y
        if i < len(sizes) - 2:
            nodes.append(helper.make_node("Relu", [x], [f"{x}.relu"], name=f"relu{i + 1}"))
            x = f"{x}.relu"
    graph = helper.make_graph(
        nodes, "mlp_qoperator",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        inits)
    return finish_model(graph)


def unsupported_op():
    """A single-layer LSTM (sequence 3, batch 4, 4 features, hidden 5) followed by Relu."""
    rng = rng_for("unsupported_op")
    hidden, features = 5, 4
    inits = [
        init("lstm.W", small(rng, (1, 4 * hidden, features), 0.5)),
        init("lstm.R", small(rng, (1, 4 * hidden, hidden), 0.5)),
        init("lstm.B", small(rng, (1, 8 * hidden), 0.1)),
    ]
    nodes = [
        helper.make_node("LSTM", ["input", "lstm.W", "lstm.R", "lstm.B"], ["", "lstm.Y_h"],
                         name="lstm", hidden_size=hidden),
        helper.make_node("Relu", ["lstm.Y_h"], ["output"], name="relu"),
    ]
    graph = helper.make_graph(
        nodes, "unsupported_op",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [3, "batch", features])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, "batch", hidden])],
        inits)
    return finish_model(graph)


# MARK: - Quantized models


class Calibration(CalibrationDataReader):
    """32 inputs from a fixed seed, in batches of the test batch size."""

    def __init__(self, make_inputs, batch):
        samples = make_inputs(np.random.default_rng(CALIBRATION_SEED), CALIBRATION_SAMPLES)
        self.batches = iter([{"input": samples[i:i + batch]}
                             for i in range(0, CALIBRATION_SAMPLES, batch)])

    def get_next(self):
        return next(self.batches, None)


def quantize(model, quant_format, make_inputs, batch, **options):
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = pathlib.Path(tmp, "float.onnx"), pathlib.Path(tmp, "quant.onnx")
        onnx.save(model, src)
        quantize_static(
            str(src), str(dst), Calibration(make_inputs, batch),
            quant_format=quant_format, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, **options)
        quantized = onnx.load(dst)
    onnx.checker.check_model(quantized, full_check=True)
    return quantized


def constant(model, name):
    for t in model.graph.initializer:
        if t.name == name:
            return numpy_helper.to_array(t)
    return None


def quant_notes(model, inputs, outputs):
    """Per quantized node: weight axis, scale shapes and zero-point dtypes; the output step."""
    notes = []
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear":
            data = constant(model, node.input[0])
            if data is None:
                continue
            scale = constant(model, node.input[1])
            zp = constant(model, node.input[2]) if len(node.input) > 2 else None
            axis = next((a.i for a in node.attribute if a.name == "axis"), None)
            notes.append(
                f"  DequantizeLinear of constant {node.input[0]}: {data.dtype} {list(data.shape)}, "
                f"scale {list(scale.shape)}, zero point {zp.dtype if zp is not None else 'none'}"
                + (f", axis {axis}" if scale.ndim else ", per-tensor")
                + (f", zero points all 0" if zp is not None and not zp.any() else ""))
        elif node.op_type in ("QLinearConv", "QLinearMatMul"):
            x_zp, w, w_scale, w_zp, y_zp = (constant(model, node.input[i]) for i in (2, 3, 4, 5, 7))
            bias = constant(model, node.input[8]) if len(node.input) > 8 else None
            per_channel = w_scale.ndim == 1 and w_scale.size > 1
            axis = (0 if node.op_type == "QLinearConv" else 1) if per_channel else None
            notes.append(
                f"  {node.op_type} {node.name}: x_zero_point {x_zp.dtype}, weight {w.dtype} "
                f"{list(w.shape)} range [{w.min()}, {w.max()}], w_scale {list(w_scale.shape)}"
                + (f" (per-channel along weight axis {axis})" if per_channel else " (per-tensor)")
                + f", w_zero_point {w_zp.dtype} {'all 0' if not w_zp.any() else 'nonzero'}"
                + f", y_zero_point {y_zp.dtype}"
                + (f", bias {bias.dtype}" if bias is not None else ""))
    zero_points = {str(constant(model, n.input[2]).dtype)
                   for n in model.graph.node if n.op_type == "QuantizeLinear"}
    notes.append(f"activation QuantizeLinear zero points: {', '.join(sorted(zero_points))}, "
                 f"per-tensor")
    notes += saturation_notes(model, inputs)
    # The DequantizeLinear that feeds a graph output (directly, or through QOperator's float
    # bias Add) sets the output quantization step.
    producers = {o: n for n in model.graph.node for o in n.output}
    for out in model.graph.output:
        producer = producers[out.name]
        via = ""
        if producer.op_type == "Add" and producers.get(producer.input[0]) is not None:
            via = f" (then a float Add of {producer.input[1]})"
            producer = producers[producer.input[0]]
        if producer.op_type != "DequantizeLinear":
            notes.append(f"output {out.name} is produced by {producer.op_type} (float)")
            continue
        scale = float(constant(model, producer.input[1]))
        zp = constant(model, producer.input[2])
        notes.append(f"output {out.name} step: DequantizeLinear scale {scale:.9g}, zero point "
                     f"{int(zp)} ({zp.dtype}){via}")
        basic = run(model, inputs, ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)[0]
        diff = np.abs(basic - outputs[0]).max() / scale
        notes.append(f"max |ORT_ENABLE_ALL - ORT_ENABLE_BASIC| on output: {diff:.3g} steps")
    return notes


def saturation_notes(model, inputs):
    """Quantized activations of the test input that hit the end of their calibrated range."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    names = [o for n in model.graph.node
             if n.op_type == "QuantizeLinear" or n.op_type.startswith("QLinear") for o in n.output]
    zero_points = {o: n.input[7] if n.op_type.startswith("QLinear") else n.input[2]
                   for n in model.graph.node for o in n.output if o in names}
    probe.graph.output.extend(helper.make_tensor_value_info(o, TensorProto.UINT8, None)
                              for o in names)
    level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    values = run(probe, inputs, level)[len(model.graph.output):]
    notes = []
    for name, q in zip(names, values):
        zp = int(constant(model, zero_points[name]))
        high, low = int((q == 255).sum()), int((q == 0).sum()) if zp != 0 else 0
        if high or low:
            notes.append(f"saturated on the test input: {name} has {high} values at 255"
                         + (f" and {low} at 0" if low else "") + f" of {q.size} (zero point {zp})")
    return notes


def check_standard_domain(model, name):
    domains = {n.domain for n in model.graph.node} - {"", "ai.onnx"}
    if domains:
        sys.exit(f"{name}: graph uses non-standard domains {domains}: {op_summary(model)}")


# MARK: - scikit-learn


def sklearn_mlp():
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    table = np.loadtxt(DIGITS_CSV, delimiter=",", skiprows=1, dtype=np.float32)
    x, y = table[:, :-1], table[:, -1].astype(np.int64)
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x[:500], y[:500])
    model = convert_sklearn(
        clf, "sklearn_mlp", initial_types=[("input", FloatTensorType([None, 64]))],
        options={id(clf): {"zipmap": False}})
    model.producer_name += " (via starling make_ort_fixtures.py)"
    # skl2onnx lists the opsets in set order, which changes with Python's hash seed.
    opsets = sorted(model.opset_import, key=lambda o: o.domain)
    del model.opset_import[:]
    model.opset_import.extend(opsets)
    onnx.checker.check_model(model, full_check=True)
    inputs = [x[500:504]]
    accuracy = float((clf.predict(x[500:]) == y[500:]).mean())
    notes = [f"trained: MLPClassifier(hidden_layer_sizes=(32,), max_iter=30, random_state=0) on "
             f"digits.csv rows 0-499; test input = rows 500-503; held-out accuracy (rows 500+) "
             f"{accuracy:.3f}"]
    return model, inputs, clf.predict_proba(inputs[0]).astype(np.float32), notes


# MARK: - Main


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()

    mlp_x = mlp_inputs(rng_for("mlp_input"), 4)
    cnn_x = cnn_inputs(rng_for("cnn_input"), 2)

    float_mlp = mlp_gemm()
    save_case("mlp_gemm", float_mlp, [mlp_x])
    save_case("mlp_matmul", mlp_matmul(),
              [rng_for("mlp_matmul_input").standard_normal((4, 32)).astype(np.float32)])
    float_cnn = cnn("cnn_nchw", 512, "Gemm")
    save_case("cnn_nchw", float_cnn, [cnn_x])
    save_case("cnn_misc", cnn_misc(),
              [rng_for("cnn_misc_input").random((2, 3, 16, 16), dtype=np.float32)])

    # QDQ: the float mlp_gemm and cnn_nchw models as they are.
    for name, source, model, make_inputs, x in [
        ("mlp_qdq", "mlp_gemm", float_mlp, mlp_inputs, mlp_x),
        ("cnn_qdq", "cnn_nchw", float_cnn, cnn_inputs, cnn_x),
    ]:
        q = quantize(model, QuantFormat.QDQ, make_inputs, x.shape[0])
        check_standard_domain(q, name)
        float_ref = run(model, [x])[0]
        outputs = run(q, [x])
        save_case(name, q, [x], [
            f"quantized from {source} with QuantFormat.QDQ",
            *quant_notes(q, [x], outputs),
            f"max |quantized - float| on output: {np.abs(outputs[0] - float_ref).max():.4g}"])

    # QOperator: Gemm would become com.microsoft QGemm, Add QLinearAdd and Softmax QLinearSoftmax,
    # so the dense layers are MatMul + Add with only MatMul (and Conv, MaxPool, Flatten, Relu)
    # quantized: Add and the Relu after it stay float between DequantizeLinear and QuantizeLinear.
    qop_types = ["MatMul", "Conv", "Relu", "MaxPool", "Flatten"]
    qop_mlp = mlp_qoperator_float()
    qop_cnn = cnn("cnn_qoperator", 128, "MatMul")
    for name, model, make_inputs, x in [("mlp_qoperator", qop_mlp, mlp_inputs, mlp_x),
                                        ("cnn_qoperator", qop_cnn, cnn_inputs, cnn_x)]:
        q = quantize(model, QuantFormat.QOperator, make_inputs, x.shape[0],
                     op_types_to_quantize=qop_types)
        check_standard_domain(q, name)
        float_ref = run(model, [x])[0]
        outputs = run(q, [x])
        notes = [f"float model before quantization: {op_summary(model)}",
                 f"quantized with QuantFormat.QOperator, op_types_to_quantize={qop_types}",
                 *quant_notes(q, [x], outputs),
                 f"max |quantized - float| on output: {np.abs(outputs[0] - float_ref).max():.4g}"]
        save_case(name, q, [x], notes)

    model, inputs, sklearn_proba, notes = sklearn_mlp()
    outputs = save_case("sklearn_mlp", model, inputs, notes)
    proba_diff = np.abs(outputs[1] - sklearn_proba).max()
    versions_log[-1:-1] = [f"max |ORT probabilities - sklearn predict_proba|: {proba_diff:.3g}"]

    save_case("unsupported_op", unsupported_op(),
              [rng_for("unsupported_input").standard_normal((3, 4, 4)).astype(np.float32)])

    write_versions()


def write_versions():
    import sklearn
    import skl2onnx

    level = {ort.GraphOptimizationLevel.ORT_ENABLE_BASIC: "ORT_ENABLE_BASIC",
             ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED: "ORT_ENABLE_EXTENDED",
             ort.GraphOptimizationLevel.ORT_ENABLE_ALL: "ORT_ENABLE_ALL"}[GRAPH_OPTIMIZATION]
    header = [
        "# Generated by make_ort_fixtures.py; do not edit by hand.",
        f"python {platform.python_version()}",
        f"onnx {onnx.__version__}",
        f"onnxruntime {ort.__version__} (CPUExecutionProvider, 1 thread)",
        f"numpy {np.__version__}",
        f"scikit-learn {sklearn.__version__}",
        f"skl2onnx {skl2onnx.__version__}",
        f"machine {platform.machine()}",
        f"expected outputs: ONNX Runtime session with graph_optimization_level = {level}",
        f"quantization: quantize_static, per_channel=True, activation QUInt8, weight QInt8, "
        f"MinMax calibration on {CALIBRATION_SAMPLES} inputs (seed {CALIBRATION_SEED}), "
        f"no quant_pre_process",
        "",
    ]
    (OUT / "VERSIONS.txt").write_text("\n".join(header + versions_log))


if __name__ == "__main__":
    main()
