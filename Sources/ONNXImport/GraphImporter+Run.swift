import Core

extension GraphImporter {
    /// Imports every needed node in order.
    mutating func run() throws(ModelError) {
        for (i, node) in graph.node.enumerated() where needed[i] && !absorbed.contains(i) {
            try importNode(node)
        }
    }

    // swiftlint:disable:next cyclomatic_complexity
    private mutating func importNode(_ node: Onnx_NodeProto) throws(ModelError) {
        guard node.domain.isEmpty || node.domain == "ai.onnx" else {
            let hint =
                node.domain == "ai.onnx.ml"
                ? "; Starling does not import the classic-ML domain ai.onnx.ml (choose graph outputs that avoid it)" : ""
            throw ModelError(.unsupportedOp, "unsupported ONNX op '\(node.qualifiedOpType)' (node '\(node.label)')\(hint)")
        }
        guard !node.output.isEmpty, !node.output[0].isEmpty else { throw node.error(.invalidGraph, "has no output") }
        let arity = Self.minimumInputs[node.opType] ?? 1
        let named = Self.qLinearInputs.contains(node.opType) ? 1 : arity
        guard node.input.count >= arity, node.input.prefix(named).allSatisfy({ !$0.isEmpty }) else {
            throw node.error(.invalidGraph, "has \(node.input.count) inputs; \(node.opType) needs at least \(arity)")
        }
        if node.opType == "Constant" {
            try importConstant(node)
            return
        }
        if node.input.allSatisfy({ $0.isEmpty || constants[$0] != nil }) {
            for (name, tensor) in zip(node.output, try fold(node)) where !name.isEmpty { constants[name] = tensor }
            return
        }
        switch node.opType {
        case "Identity", "Dropout": try importIdentity(node)
        case "Cast": try importCast(node)
        case "Relu", "Sigmoid", "Tanh", "Clip": try importActivation(node)
        case "Softmax": try importSoftmax(node)
        case "Add", "Sum": try importAdd(node)
        case "Gemm": try importGemm(node)
        case "MatMul": try importMatMul(node)
        case "Conv": try importConv(node)
        case "MaxPool", "AveragePool": try importPool(node)
        case "GlobalAveragePool": try importGlobalAveragePool(node)
        case "BatchNormalization": try importBatchNorm(node)
        case "Flatten": try importFlatten(node)
        case "Reshape": try importReshape(node)
        case "QuantizeLinear": try importQuantize(node)
        case "DequantizeLinear": try importDequantize(node)
        case "QLinearConv": try importQLinearConv(node)
        case "QLinearMatMul": try importQLinearMatMul(node)
        default:
            throw ModelError(.unsupportedOp, "unsupported ONNX op '\(node.qualifiedOpType)' (node '\(node.label)')")
        }
    }

    /// QLinear ops: their eight inputs must all be listed, but only the first (the data) is checked
    /// for a name here. The scale, zero point and weight inputs after it are read as constants by
    /// the op's importer, which names any that is missing (an empty zero point means "zero").
    static let qLinearInputs: Set<String> = ["QLinearConv", "QLinearMatMul"]

    /// Inputs each op needs listed; for ops outside `qLinearInputs` each of them must also be named.
    static let minimumInputs: [String: Int] = [
        "Constant": 0, "Gemm": 2, "MatMul": 2, "Conv": 2, "BatchNormalization": 5, "Add": 2, "QuantizeLinear": 2,
        "DequantizeLinear": 2, "QLinearConv": 8, "QLinearMatMul": 8,
    ]

    /// Refuses a node whose outputs after the first are read (Dropout masks, MaxPool indices, ...).
    func requireFirstOutputOnly(_ node: Onnx_NodeProto) throws(ModelError) {
        for extra in node.output.dropFirst() where !extra.isEmpty {
            if !consumers(of: extra).isEmpty || outputNames.contains(extra) {
                throw node.error("its output '\(extra)' is used; Starling imports only the first output of \(node.opType)")
            }
        }
    }

    private mutating func importConstant(_ node: Onnx_NodeProto) throws(ModelError) {
        if let t = node.tensor("value") {
            constants[node.output[0]] = try ConstantTensor(t, what: "Constant '\(node.label)'")
        } else if let f = node.float("value_float") {
            constants[node.output[0]] = ConstantTensor(shape: [], values: [Double(f)], type: .float)
        } else if let i = node.int("value_int") {
            constants[node.output[0]] = ConstantTensor(shape: [], values: [Double(i)], type: .int64)
        } else if let list = node.ints("value_ints") {
            constants[node.output[0]] = ConstantTensor(shape: [list.count], values: list.map(Double.init), type: .int64)
        } else {
            throw node.error("has no tensor, float or integer value Starling can read")
        }
    }

    private mutating func importIdentity(_ node: Onnx_NodeProto) throws(ModelError) {
        try requireFirstOutputOnly(node)
        if node.opType == "Dropout", let training = try constantInput(2, of: node, "training_mode"), training.scalar != 0 {
            throw node.error("runs in training mode; export the model for inference")
        }
        values[node.output[0]] = try value(node.input[0], of: node)
    }

    private mutating func importCast(_ node: Onnx_NodeProto) throws(ModelError) {
        let x = try value(node.input[0], of: node)
        guard node.int("to") == Int(ElementType.float.rawValue), !x.isInteger else {
            throw node.error("casts a computed tensor to ONNX type \(node.int("to") ?? 0); only float32 to float32 is supported")
        }
        values[node.output[0]] = x
    }

    private mutating func importActivation(_ node: Onnx_NodeProto) throws(ModelError) {
        let x = try value(node.input[0], of: node)
        guard !x.isInteger else { throw node.error("reads a quantized (integer) tensor; dequantize it first") }
        let op: Op
        switch node.opType {
        case "Relu": op = .relu
        case "Sigmoid": op = .sigmoid
        case "Tanh": op = .tanh
        default: op = try clipOp(node)
        }
        let out = emit(op, [x.name], for: node)
        values[node.output[0]] = Value(
            name: out, shape: x.shape, layout: x.layout, nonNegative: op == .relu || op == .relu6 || op == .sigmoid)
    }

    /// Clip(0, ∞) is a ReLU and Clip(0, 6) a ReLU6; other bounds are refused.
    private func clipOp(_ node: Onnx_NodeProto) throws(ModelError) -> Op {
        var low = -Double.infinity
        var high = Double.infinity
        if opset < 11 {
            low = node.float("min").map(Double.init) ?? low
            high = node.float("max").map(Double.init) ?? high
        } else {
            if let c = try constantInput(1, of: node, "min") { low = c.scalar ?? .nan }
            if let c = try constantInput(2, of: node, "max") { high = c.scalar ?? .nan }
        }
        if low == 0 && high == .infinity { return .relu }
        if low == 0 && high == 6 { return .relu6 }
        throw node.error("clips to [\(low), \(high)]; Starling supports Clip only as ReLU [0, ∞) or ReLU6 [0, 6]")
    }

    // MARK: - Finishing

    /// The Starling graph, its quantization, and the ranks of graph outputs stored channels-last.
    mutating func finish() throws(ModelError) -> (Graph, QuantizationSpec?, [Int]) {
        var outputs: [String] = []
        var convertedOutputRanks: [Int] = []
        let inputNames = Set(inputs.map(\.name))
        for name in outputNames {
            if constants[name] != nil {
                throw ModelError(.unsupportedOp, "graph output '\(name)' is a constant; Starling models compute their outputs")
            }
            guard let v = values[name] else { throw ModelError(.invalidGraph, "graph output '\(name)' is never computed") }
            switch v.layout {
            case .plain: break
            case .channelsLast: convertedOutputRanks.append(v.shape.count)
            case .flatChannelsLast:
                throw ModelError(
                    .unsupportedOp,
                    "graph output '\(name)' flattens an NCHW tensor; Starling would produce it in NHWC order, so it is refused")
            }
            var ourName = v.name
            if ourName != name, !taken.contains(name), !inputNames.contains(ourName), !outputs.contains(ourName) {
                rename(ourName, to: name)
                ourName = name
            }
            outputs.append(ourName)
        }
        let g = Graph(inputs: inputs, outputs: outputs, nodes: nodes, initializers: initializers, frozen: frozen)
            .simplifyingReshapes(activations: &activations)
        let spec =
            isQuantized
                ? QuantizationSpec(
                    mode: .static, activations: activations, weights: weights, biases: biases,
                    enforced: Set(activations.keys))
                : nil
        return (g, spec, convertedOutputRanks)
    }

    /// Renames Starling value `old` to `new` everywhere.
    private mutating func rename(_ old: String, to new: String) {
        taken.insert(new)
        for i in nodes.indices {
            if nodes[i].output == old { nodes[i].output = new }
            nodes[i].inputs = nodes[i].inputs.map { $0 == old ? new : $0 }
        }
        if let q = activations.removeValue(forKey: old) { activations[new] = q }
        for (key, v) in values where v.name == old { values[key]?.name = new }
    }
}
