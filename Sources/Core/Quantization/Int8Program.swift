/// A quantized model compiled for one kernel backend: a flat list of steps over numbered
/// buffers, with weights packed once. Immutable and shareable; each caller thread runs it with
/// its own `Workspace`.
///
/// Values flow as uint8 between int8 layers (activations requantized in the GEMM epilogue,
/// ReLU fused as a clamp, pooling and reshapes on uint8); a layer whose readers want float
/// (softmax, sigmoid, graph outputs) dequantizes in its epilogue instead. Ops without an int8
/// implementation run in float32 on dequantized inputs.
public final class Int8Program: @unchecked Sendable {
    /// Per buffer: element type and elements per sample.
    struct Slot {
        var isU8: Bool
        var perSample: Int
        var sampleShape: [Int]
    }

    /// The backend the weights were packed for.
    public let backend: KernelBackend
    let steps: [Step]
    let slots: [Slot]
    /// Graph inputs: name, float slot, per-sample shape.
    let inputs: [(name: String, slot: Int, shape: [Int])]
    /// Graph outputs: name, float slot, per-sample shape.
    let outputs: [(name: String, slot: Int, shape: [Int])]

    /// Compiles `model`, which must carry a quantization spec.
    public init(model: Model, backend: KernelBackend = .best) throws(ModelError) {
        guard let quantization = model.quantization else {
            throw ModelError(.invalidArgument, "the model is not quantized; run `starling model quantize` first")
        }
        guard backend.isAvailable else { throw ModelError(.invalidArgument, "backend \(backend) is not available here") }
        var compiler = try Int8Compiler(graph: model.graph, spec: quantization, backend: backend)
        try compiler.compile()
        self.backend = backend
        steps = compiler.steps
        slots = compiler.slots
        inputs = model.graph.inputs.map { ($0.name, compiler.f32Slot[$0.name]!, Array(compiler.sampleShapes[$0.name]!)) }
        outputs = model.graph.outputs.map { ($0, compiler.outputSlots[$0]!, Array(compiler.sampleShapes[$0]!)) }
    }

    /// Names of the kinds of steps, for `inspect` and tests (e.g. "dense:u8", "softmax").
    public var stepKinds: [String] {
        steps.map { step in
            switch step {
            case .quantize: "quantize"
            case .dequantize: "dequantize"
            case .dense(let d): d.inputQuant == nil ? "dense:dynamic" : (d.output.isU8 ? "dense:u8" : "dense:f32")
            case .conv(let c): c.output.isU8 ? "conv:u8" : "conv:f32"
            case .maxPool: "max_pool:u8"
            case .avgPool: "avg_pool:u8"
            case .add: "add:u8"
            case .reluU8: "relu:u8"
            case .softmax: "softmax"
            case .activation(let op, _, _): op.kind
            case .generic(let g): "float:" + g.node.op.kind
            }
        }
    }
}

extension LayerOutput {
    var isU8: Bool {
        if case .u8 = self { return true }
        return false
    }
}

/// Turns a quantized graph into steps (see `Int8Program`).
struct Int8Compiler {
    let graph: Graph
    let spec: QuantizationSpec
    let backend: KernelBackend
    var steps: [Step] = []
    var slots: [Int8Program.Slot] = []
    var f32Slot: [String: Int] = [:]
    var u8Slot: [String: Int] = [:]
    var outputSlots: [String: Int] = [:]
    /// Activation quantization in effect (pass-through ops inherit their input's).
    var params: [String: ActivationQuant]
    let sampleShapes: [String: ArraySlice<Int>]
    private var readers: [String: [Node]] = [:]
    private var skipped = Set<String>()
    /// The value a node finally writes when an activation was fused into it.
    private var fusedOutput: [String: String] = [:]

    init(graph: Graph, spec: QuantizationSpec, backend: KernelBackend) throws(ModelError) {
        self.graph = graph
        self.spec = spec
        self.backend = backend
        params = spec.mode == .static ? spec.activations : [:]
        let one = try graph.inferShapes(batch: 1)
        let two = try graph.inferShapes(batch: 2)
        var sample: [String: ArraySlice<Int>] = [:]
        for (name, shape) in one where graph.initializers[name] == nil {
            guard let other = two[name], other.reduce(1, *) == 2 * shape.reduce(1, *), shape.first == 1 else {
                throw ModelError(.invalidGraph, "value '\(name)' does not have the batch as its first dimension")
            }
            sample[name] = shape.dropFirst()
        }
        sampleShapes = sample
        for node in graph.nodes {
            for input in node.inputs { readers[input, default: []].append(node) }
        }
    }

    mutating func compile() throws(ModelError) {
        for input in graph.inputs { f32Slot[input.name] = newSlot(u8: false, for: input.name) }
        for node in graph.nodes where !skipped.contains(node.name) {
            try compile(node)
            let written = fusedOutput[node.name] ?? node.output
            if spec.enforced.contains(written), u8Slot[written] == nil, params[written] != nil {
                try roundThroughU8(written)
            }
        }
        for output in graph.outputs { outputSlots[output] = try f32(output) }
    }

    // MARK: - Slots and conversions

    private mutating func newSlot(u8: Bool, for value: String) -> Int {
        let shape = Array(sampleShapes[value] ?? [])
        slots.append(Int8Program.Slot(isU8: u8, perSample: shape.reduce(1, *), sampleShape: shape))
        return slots.count - 1
    }

    /// The float buffer of `value`, dequantizing it once if it only exists as uint8.
    private mutating func f32(_ value: String) throws(ModelError) -> Int {
        if let slot = f32Slot[value] { return slot }
        guard let source = u8Slot[value], let q = params[value] else {
            throw ModelError(.invalidGraph, "value '\(value)' is read before it is computed")
        }
        let slot = newSlot(u8: false, for: value)
        steps.append(.dequantize(src: source, dst: slot, q))
        f32Slot[value] = slot
        return slot
    }

    /// The uint8 buffer of `value`, quantizing it once if it only exists as float; nil when
    /// the value has no quantization parameters.
    private mutating func u8(_ value: String) throws(ModelError) -> Int? {
        if let slot = u8Slot[value] { return slot }
        guard let q = params[value], let source = f32Slot[value] else { return nil }
        let slot = newSlot(u8: true, for: value)
        steps.append(.quantize(src: source, dst: slot, q))
        u8Slot[value] = slot
        return slot
    }

    /// True when `node` has a uint8 implementation for its input.
    private func readsU8(_ node: Node) -> Bool {
        switch node.op {
        case .dense, .conv2d, .depthwiseConv2d:
            return spec.mode == .static && node.inputs.count > 1 && spec.weights[node.inputs[1]] != nil
        case .maxPool, .avgPool, .globalAvgPool, .add, .relu, .relu6:
            return true
        case .flatten, .reshape:
            return (readers[node.output] ?? []).contains(where: readsU8)
        default:
            return false
        }
    }

    /// Whether a layer writing `value` should write uint8: it has parameters, and some reader
    /// takes uint8 or the model defines the value as rounded.
    private func wantsU8(_ value: String) -> Bool {
        params[value] != nil && (spec.enforced.contains(value) || (readers[value] ?? []).contains(where: readsU8))
    }

    /// Rounds a float value through its uint8 form (quantize, then dequantize for float readers).
    private mutating func roundThroughU8(_ value: String) throws(ModelError) {
        _ = try u8(value)
        f32Slot[value] = nil
        _ = try f32(value)
    }

    /// A ReLU or ReLU6 that is the only reader of `node`'s output, to fuse into its epilogue.
    private func fusableActivation(after node: Node) -> Node? {
        guard !graph.outputs.contains(node.output), let only = readers[node.output], only.count == 1,
            only[0].op == .relu || only[0].op == .relu6
        else { return nil }
        return only[0]
    }

    /// The uint8 clamp range that applies `activation` (nil: none) for output parameters `q`.
    private func clampRange(_ activation: Op?, _ q: ActivationQuant) -> (Int32, Int32) {
        switch activation {
        case .relu?: return (max(0, q.zeroPoint), 255)
        case .relu6?:
            let six = (Float(6) / q.scale).rounded(.toNearestOrEven) + Float(q.zeroPoint)
            return (max(0, q.zeroPoint), Int32(min(max(six, 0), 255)))
        default: return (0, 255)
        }
    }

    // MARK: - Nodes

    private mutating func compile(_ node: Node) throws(ModelError) {
        let x = node.inputs.first ?? ""
        switch node.op {
        case .dense where readsU8(node) || (spec.weights[node.inputs[1]] != nil && spec.mode == .dynamic):
            try compileDense(node)
        case .conv2d, .depthwiseConv2d:
            if readsU8(node), params[x] != nil, try compileConv(node) { return }
            try compileGeneric(node)
        case .maxPool(let window):
            if let src = u8Slot[x] {
                params[node.output] = params[x]
                let dst = newSlot(u8: true, for: node.output)
                u8Slot[node.output] = dst
                steps.append(.maxPool(src: src, dst: dst, window))
            } else {
                try compileGeneric(node)
            }
        case .avgPool(let window, let countIncludePad):
            try compilePool(node, window: window, countIncludePad: countIncludePad)
        case .globalAvgPool:
            let shape = sampleShapes[x]!
            try compilePool(node, window: Window2D(kernel: [shape[shape.startIndex], shape[shape.startIndex + 1]]), countIncludePad: false)
        case .flatten, .reshape:
            if let slot = u8Slot[x] {
                u8Slot[node.output] = slot
                params[node.output] = params[x]
            }
            if let slot = f32Slot[x] { f32Slot[node.output] = slot }
        case .add:
            try compileAdd(node)
        case .relu, .relu6:
            if let src = u8Slot[x], let q = params[x] {
                params[node.output] = q
                let (lo, hi) = clampRange(node.op, q)
                let dst = newSlot(u8: true, for: node.output)
                u8Slot[node.output] = dst
                steps.append(.reluU8(src: src, dst: dst, low: UInt8(lo), high: UInt8(hi)))
            } else {
                try compileActivation(node)
            }
        case .sigmoid, .tanh:
            try compileActivation(node)
        case .softmax:
            let src = try f32(x)
            let dst = newSlot(u8: false, for: node.output)
            f32Slot[node.output] = dst
            steps.append(.softmax(src: src, dst: dst, width: sampleShapes[x]!.last ?? 1))
        default:
            try compileGeneric(node)
        }
    }

    private mutating func compileActivation(_ node: Node) throws(ModelError) {
        let src = try f32(node.inputs[0])
        let dst = newSlot(u8: false, for: node.output)
        f32Slot[node.output] = dst
        steps.append(.activation(node.op, src: src, dst: dst))
    }

    private mutating func compileGeneric(_ node: Node) throws(ModelError) {
        var inputs: [GenericStep.Input] = []
        for name in node.inputs {
            if let constant = graph.initializers[name] {
                inputs.append(.constant(constant))
            } else {
                inputs.append(.slot(try f32(name), sampleShape: Array(sampleShapes[name]!)))
            }
        }
        let dst = newSlot(u8: false, for: node.output)
        f32Slot[node.output] = dst
        steps.append(.generic(GenericStep(node: node, inputs: inputs, dst: dst)))
    }

    /// The value a layer finally writes and the activation fused into it.
    private mutating func fuse(_ node: Node) -> (String, Op?) {
        guard let activation = fusableActivation(after: node) else { return (node.output, nil) }
        skipped.insert(activation.name)
        fusedOutput[node.name] = activation.output
        return (activation.output, activation.op)
    }

    private mutating func compileDense(_ node: Node) throws(ModelError) {
        let weight = spec.weights[node.inputs[1]]!
        let biasName = node.inputs.count > 2 ? node.inputs[2] : nil
        let (out, activation) = fuse(node)
        if spec.mode == .static, let src = try u8(node.inputs[0]), let inQ = params[node.inputs[0]] {
            let output: LayerOutput
            if wantsU8(out), let q = params[out] {
                let (lo, hi) = clampRange(activation, q)
                output = .u8(q, min: lo, max: hi)
            } else {
                output = .f32(relu: activation == .relu)
            }
            let qbias = try biasName.map { (name) throws(ModelError) -> QuantizedBias in
                if let b = spec.biases[name] { return b }
                return try Self.quantizeBias(graph.initializers[name]!, inputScale: inQ.scale, weight: weight, name: name)
            }
            let dst = newSlot(u8: output.isU8, for: out)
            steps.append(
                .dense(DenseStep(src: src, dst: dst, weight: weight, bias: qbias, floatBias: nil, inputQuant: inQ, output: output, backend: backend)))
            if output.isU8 { u8Slot[out] = dst } else { f32Slot[out] = dst }
            if activation == .relu6, !output.isU8 { try applyFloat(.relu6, to: out) }
        } else {
            let src = try f32(node.inputs[0])
            let floatBias = biasName.map { graph.initializers[$0]!.scalars }
            let dst = newSlot(u8: false, for: out)
            steps.append(
                .dense(DenseStep(
                    src: src, dst: dst, weight: weight, bias: nil, floatBias: floatBias, inputQuant: nil,
                    output: .f32(relu: activation == .relu), backend: backend)))
            f32Slot[out] = dst
            if activation == .relu6 { try applyFloat(.relu6, to: out) }
        }
    }

    /// Replaces the float buffer of `value` by `op` applied to it.
    private mutating func applyFloat(_ op: Op, to value: String) throws(ModelError) {
        let src = try f32(value)
        let dst = newSlot(u8: false, for: value)
        steps.append(.activation(op, src: src, dst: dst))
        f32Slot[value] = dst
    }

    /// Compiles a convolution reading uint8; false when it must run in float instead.
    private mutating func compileConv(_ node: Node) throws(ModelError) -> Bool {
        let x = node.inputs[0]
        let weight = spec.weights[node.inputs[1]]!
        guard let inQ = params[x], let src = try u8(x) else { return false }
        let (out, activation) = fuse(node)
        let output: LayerOutput
        if let q = params[out] {
            let (lo, hi) = clampRange(activation, q)
            output = .u8(q, min: lo, max: hi)
        } else if case .conv2d = node.op {
            output = .f32(relu: activation == .relu)
        } else {
            if activation != nil {
                skipped.remove(fusableActivation(after: node)!.name)
                fusedOutput[node.name] = nil
            }
            return false
        }
        let biasName = node.inputs.count > 2 ? node.inputs[2] : nil
        let qbias = try biasName.map { (name) throws(ModelError) -> QuantizedBias in
            if let b = spec.biases[name] { return b }
            return try Self.quantizeBias(graph.initializers[name]!, inputScale: inQ.scale, weight: weight, name: name)
        }
        let dst = newSlot(u8: output.isU8, for: out)
        let inputChannels = sampleShapes[x]!.last!
        steps.append(
            .conv(ConvStep(
                src: src, dst: dst, op: node.op, weight: weight, bias: qbias, inputChannels: inputChannels, inputQuant: inQ,
                output: output, backend: backend)))
        if output.isU8 { u8Slot[out] = dst } else { f32Slot[out] = dst }
        if activation == .relu6, !output.isU8 { try applyFloat(.relu6, to: out) }
        return true
    }

    private mutating func compilePool(_ node: Node, window: Window2D, countIncludePad: Bool) throws(ModelError) {
        let x = node.inputs[0]
        guard let src = u8Slot[x], let inQ = params[x], let outQ = params[node.output] else {
            try compileGeneric(node)
            return
        }
        let dst = newSlot(u8: true, for: node.output)
        u8Slot[node.output] = dst
        steps.append(
            .avgPool(
                src: src, dst: dst, window, countIncludePad: countIncludePad, zin: inQ.zeroPoint, k: inQ.scale / outQ.scale,
                zout: outQ.zeroPoint))
    }

    private mutating func compileAdd(_ node: Node) throws(ModelError) {
        let (a, b) = (node.inputs[0], node.inputs[1])
        guard sampleShapes[a] != nil, sampleShapes[a] == sampleShapes[b], let qa = params[a], let qb = params[b],
            let qo = params[node.output], let sa = try u8(a), let sb = try u8(b)
        else {
            try compileGeneric(node)
            return
        }
        let (out, activation) = fuse(node)
        let q = params[out] ?? qo
        params[out] = q
        let dst = newSlot(u8: true, for: out)
        u8Slot[out] = dst
        steps.append(.add(a: sa, b: sb, dst: dst, za: qa.zeroPoint, ka: qa.scale / q.scale, zb: qb.zeroPoint, kb: qb.scale / q.scale, zout: q.zeroPoint))
        if activation != nil {
            let (lo, hi) = clampRange(activation, q)
            let clamped = newSlot(u8: true, for: out)
            steps.append(.reluU8(src: dst, dst: clamped, low: UInt8(lo), high: UInt8(hi)))
            u8Slot[out] = clamped
        }
    }

    /// int32 bias codes for a float bias: round(b / (input scale · weight scale)).
    static func quantizeBias(_ bias: Tensor, inputScale: Float, weight: QuantizedWeight, name: String) throws(ModelError) -> QuantizedBias {
        let n = bias.count
        var values = [Int32](repeating: 0, count: n)
        var scales = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let s = inputScale * (weight.scales.count == 1 ? weight.scales[0] : weight.scales[i])
            let q = (bias.scalars[i] / s).rounded(.toNearestOrEven)
            guard q.isFinite, abs(q) < 2_147_483_520 else {
                throw ModelError(.nonFinite, "bias '\(name)' does not fit int32 at this quantization scale")
            }
            values[i] = Int32(q)
            scales[i] = s
        }
        return QuantizedBias(values: values, scales: scales)
    }
}
