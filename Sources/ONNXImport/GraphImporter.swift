import Core

/// How a Starling value stores the ONNX tensor it stands for.
enum Layout: Equatable {
    /// The same shape and element order as in ONNX.
    case plain
    /// ONNX [N, C, H, W] stored as NHWC [N, H, W, C]; ONNX [N, C, L] stored as [N, 1, L, C].
    case channelsLast
    /// ONNX [N, C·P] flattened from [N, C, spatial...], stored in (P, C) order: a flattened NHWC tensor.
    case flatChannelsLast(channels: Int, positions: Int)
}

/// What the importer knows about one ONNX value computed at run time.
struct Value {
    /// The Starling value holding it.
    var name: String
    /// The ONNX shape; -1 marks the batch.
    var shape: [Int]
    var layout: Layout = .plain
    /// uint8 parameters when the ONNX tensor is quantized or fake-quantized (QDQ).
    var quant: ActivationQuant?
    /// True when the ONNX tensor holds integers (QOperator activations), false for float.
    var isInteger = false
    /// True when every element is known to be ≥ 0 (after Relu, Softmax, Sigmoid, ...).
    var nonNegative = false

    /// True when axis 0 is the batch.
    var batched: Bool { shape.first == -1 }

    /// The Starling shape (-1 for the batch).
    var ourShape: [Int] {
        guard layout == .channelsLast else { return shape }
        if shape.count == 4 { return [shape[0], shape[2], shape[3], shape[1]] }
        return [shape[0], 1, shape[2], shape[1]]
    }

    /// Channels and spatial positions of a channels-last value.
    var channelsAndPositions: (Int, Int) {
        (shape[1], shape[2...].reduce(1, *))
    }
}

/// Translates one ONNX graph into a Starling graph, node by node.
struct GraphImporter {
    let graph: Onnx_GraphProto
    /// The default-domain opset version.
    let opset: Int
    var values: [String: Value] = [:]
    var constants: [String: ConstantTensor] = [:]
    /// Preferred Starling names for constants that came out of folding.
    var constantNames: [String: String] = [:]
    var nodes: [Node] = []
    var initializers: [String: Tensor] = [:]
    var frozen = Set<String>()
    var activations: [String: ActivationQuant] = [:]
    var weights: [String: QuantizedWeight] = [:]
    var biases: [String: QuantizedBias] = [:]
    var inputs: [ValueSpec] = []
    /// Names in use for Starling values and initializers, and for nodes.
    var taken = Set<String>()
    var nodeNames = Set<String>()
    /// ONNX node indices already handled by an earlier fusion.
    var absorbed = Set<Int>()
    /// ONNX value name → indices of the nodes that read it.
    let readers: [String: [Int]]
    /// The ONNX graph outputs the caller asked for.
    let outputNames: [String]
    /// ONNX nodes needed for those outputs.
    let needed: [Bool]
    var isQuantized = false
    var convertedInputRanks: [Int] = []

    init(graph: Onnx_GraphProto, opset: Int, outputs: [String]?) throws(ModelError) {
        self.graph = graph
        self.opset = opset
        var readers: [String: [Int]] = [:]
        for (i, node) in graph.node.enumerated() {
            for input in node.input where !input.isEmpty { readers[input, default: []].append(i) }
        }
        self.readers = readers
        let declared = graph.output.map(\.name)
        if let outputs {
            for name in outputs where !declared.contains(name) {
                throw ModelError(.invalidArgument, "the ONNX graph has no output '\(name)'; it has \(declared)")
            }
            outputNames = outputs
        } else {
            outputNames = declared
        }
        guard !outputNames.isEmpty else { throw ModelError(.invalidGraph, "the ONNX graph has no outputs") }
        needed = Self.neededNodes(graph, for: outputNames)
        for tensor in graph.initializer {
            guard constants[tensor.name] == nil else {
                throw ModelError(.invalidGraph, "initializer '\(tensor.name)' is defined twice")
            }
            constants[tensor.name] = try ConstantTensor(tensor, what: "initializer '\(tensor.name)'")
        }
        try checkOps()
        try planInputs()
    }

    /// Ops imported as Starling nodes.
    static let runtimeOps: Set<String> = [
        "Identity", "Dropout", "Cast", "Relu", "Sigmoid", "Tanh", "Clip", "Softmax", "Add", "Sum", "Gemm", "MatMul", "Conv",
        "MaxPool", "AveragePool", "GlobalAveragePool", "BatchNormalization", "Flatten", "Reshape", "QuantizeLinear",
        "DequantizeLinear", "QLinearConv", "QLinearMatMul",
    ]
    /// Ops imported only when all their inputs are constants (folded at import).
    static let foldedOps: Set<String> = [
        "Constant", "Identity", "Dropout", "Cast", "Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Concat", "Add",
        "Sub", "Mul", "Div", "Relu", "DequantizeLinear", "QuantizeLinear",
    ]

    /// Refuses, before any other check, a graph with ops Starling cannot import, naming each one;
    /// when other graph outputs avoid them, the message names those outputs.
    private func checkOps() throws(ModelError) {
        var constant = Set(constants.keys)
        var unsupported: [Int] = []
        for (i, node) in graph.node.enumerated() where needed[i] {
            let standard = node.domain.isEmpty || node.domain == "ai.onnx"
            if standard && node.input.allSatisfy({ $0.isEmpty || constant.contains($0) }) && Self.foldedOps.contains(node.opType)
            {
                constant.formUnion(node.output)
            } else if !standard || !Self.runtimeOps.contains(node.opType) {
                unsupported.append(i)
            }
        }
        guard !unsupported.isEmpty else { return }
        let names = unsupported.map { i -> String in
            let node = graph.node[i]
            let foldable = (node.domain.isEmpty || node.domain == "ai.onnx") && Self.foldedOps.contains(node.opType)
            return "'\(node.qualifiedOpType)' (node '\(node.label)')"
                + (foldable ? " on computed tensors (Starling folds it on constants only)" : "")
        }
        var message = "unsupported ONNX op \(names[0])"
        if names.count > 1 { message += "; also unsupported: " + names.dropFirst().joined(separator: ", ") }
        if unsupported.contains(where: { graph.node[$0].domain == "ai.onnx.ml" }) {
            message += "; Starling does not import the classic-ML domain ai.onnx.ml"
        }
        let bad = Set(unsupported)
        let clean = graph.output.map(\.name).filter { name in
            !Self.neededNodes(graph, for: [name]).enumerated().contains { $0.element && bad.contains($0.offset) }
        }
        if !clean.isEmpty { message += "; the graph outputs \(clean) avoid them and can be imported on their own" }
        throw ModelError(.unsupportedOp, message)
    }

    /// Marks the nodes that the chosen outputs depend on.
    private static func neededNodes(_ graph: Onnx_GraphProto, for outputs: [String]) -> [Bool] {
        var wanted = Set(outputs)
        var needed = [Bool](repeating: false, count: graph.node.count)
        for i in stride(from: graph.node.count - 1, through: 0, by: -1) {
            let node = graph.node[i]
            guard node.output.contains(where: wanted.contains) else { continue }
            needed[i] = true
            for input in node.input where !input.isEmpty { wanted.insert(input) }
        }
        return needed
    }

    // MARK: - Inputs

    private mutating func planInputs() throws(ModelError) {
        var used = Set<String>()
        for (i, node) in graph.node.enumerated() where needed[i] { used.formUnion(node.input) }
        used.formUnion(outputNames)
        for input in graph.input where constants[input.name] == nil && used.contains(input.name) {
            let what = "graph input '\(input.name)'"
            guard let type = input.elementType else { throw ModelError(.unsupportedOp, "\(what) is not a tensor") }
            // float64 inputs are read as float32, the precision Starling computes in.
            guard type == ElementType.float.rawValue || type == ElementType.double.rawValue else {
                throw ModelError(.unsupportedOp, "\(what) has ONNX element type \(type); Starling imports float inputs only")
            }
            guard let dims = input.dimensions else { throw ModelError(.unsupportedOp, "\(what) has no declared shape") }
            let batched = !dims.isEmpty && isBatched(input.name, rank: dims.count)
            var shape: [Int] = []
            for (axis, d) in dims.enumerated() {
                if axis == 0 && batched {
                    shape.append(-1)
                } else if let d {
                    shape.append(d)
                } else {
                    throw ModelError(
                        .unsupportedOp,
                        "\(what) has a symbolic size at axis \(axis); Starling needs fixed sizes except the batch (axis 0)")
                }
            }
            guard ConstantTensor.elementCount(Array(shape.dropFirst(batched ? 1 : 0))) != nil else {
                throw ModelError(.unsupportedOp, "\(what) is too large: \(dims)")
            }
            var value = Value(name: input.name, shape: shape)
            if batched && (shape.count == 3 || shape.count == 4) && reachesSpatialOp(input.name) {
                value.layout = .channelsLast
                convertedInputRanks.append(shape.count)
            }
            taken.insert(input.name)
            values[input.name] = value
            inputs.append(ValueSpec(name: input.name, shape: value.ourShape))
        }
    }

    /// Whether axis 0 of an input is a batch: false when every reader takes it as a parameter
    /// (the B or C operand of Gemm/MatMul, a Conv weight, a broadcast operand of lower rank).
    private func isBatched(_ name: String, rank: Int) -> Bool {
        let list = readers[name] ?? []
        if list.isEmpty { return true }
        for i in list {
            let node = graph.node[i]
            for (position, input) in node.input.enumerated() where input == name {
                if ["Add", "Sub", "Mul", "Div", "Sum"].contains(node.opType) {
                    let others = node.input.filter { $0 != name && !$0.isEmpty }.map { rankOf($0) ?? rank }
                    if others.allSatisfy({ rank >= $0 }) { return true }
                } else if position == 0 {
                    return true
                }
            }
        }
        return false
    }

    private func rankOf(_ name: String) -> Int? {
        if let c = constants[name] { return c.shape.count }
        return graph.input.first { $0.name == name }?.dimensions?.count
    }

    /// Whether `name` flows (through shape-preserving ops) into an op that needs channels-last data.
    private func reachesSpatialOp(_ name: String) -> Bool {
        let spatial: Set<String> = [
            "Conv", "QLinearConv", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "BatchNormalization",
            "LpPool", "ConvTranspose",
        ]
        let stops: Set<String> = ["Flatten", "Reshape", "Gemm", "MatMul", "QLinearMatMul", "Transpose", "Squeeze", "Unsqueeze"]
        var reached: Set<String> = [name]
        for (i, node) in graph.node.enumerated() where needed[i] && node.input.contains(where: reached.contains) {
            if spatial.contains(node.opType) { return true }
            if !stops.contains(node.opType) { reached.formUnion(node.output) }
        }
        return false
    }

    // MARK: - Lookups

    /// The run-time value `name` read by `node`.
    func value(_ name: String, of node: Onnx_NodeProto) throws(ModelError) -> Value {
        if let v = values[name] { return v }
        if constants[name] != nil { throw node.error("needs '\(name)' to be computed at run time, but it is a constant") }
        throw node.error(.invalidGraph, "reads '\(name)', which no earlier node or graph input provides")
    }

    /// The constant input `i` of `node`, or nil when the input is absent.
    func constantInput(_ i: Int, of node: Onnx_NodeProto, _ role: String) throws(ModelError) -> ConstantTensor? {
        guard let name = node.input(i) else { return nil }
        if let c = constants[name] { return c }
        if values[name] != nil { throw node.error("needs its \(role) '\(name)' to be a constant (an initializer)") }
        throw node.error(.invalidGraph, "reads '\(name)', which no earlier node or graph input provides")
    }

    /// The ONNX nodes (not yet imported) reading `name`.
    func consumers(of name: String) -> [Int] {
        (readers[name] ?? []).filter { needed[$0] }
    }

    // MARK: - Emitting

    /// A name based on `base` that is not in `set`; inserts it.
    static func unique(_ base: String, in set: inout Set<String>) -> String {
        var name = base.isEmpty ? "value" : base
        var k = 1
        while set.contains(name) {
            k += 1
            name = "\(base)_\(k)"
        }
        set.insert(name)
        return name
    }

    /// Appends a Starling node computing `op` for ONNX `node` and returns the value it writes.
    mutating func emit(_ op: Op, _ inputs: [String], for node: Onnx_NodeProto, output: String? = nil, suffix: String = "")
        -> String
    {
        let base = node.name.isEmpty ? "\(node.opType)_\(node.output.first ?? "")" : node.name
        let nodeName = Self.unique(base + suffix, in: &nodeNames)
        let out = Self.unique(output ?? ((node.output.first ?? nodeName) + suffix), in: &taken)
        nodes.append(Node(name: nodeName, op: op, inputs: inputs, output: out))
        return out
    }

    /// Adds a float initializer named after `base` and returns its name.
    mutating func addInitializer(_ base: String, _ tensor: Tensor, frozen isFrozen: Bool = false) -> String {
        let name = Self.unique(base, in: &taken)
        initializers[name] = tensor
        if isFrozen { frozen.insert(name) }
        return name
    }

    /// Refuses a computed value of ONNX `shape` (-1 for the batch) with more than
    /// `ConstantTensor.maxElements` elements per sample, so no later product of its sizes can overflow.
    func checkSize(_ shape: [Int], _ node: Onnx_NodeProto) throws(ModelError) {
        guard ConstantTensor.elementCount(shape.map { Swift.max($0, 1) }) != nil else {
            throw node.error("computes a tensor of shape \(shape), too many elements per sample")
        }
    }

    /// The preferred Starling name for the constant ONNX value `name`.
    func constantName(_ name: String) -> String {
        constantNames[name] ?? name
    }
}
