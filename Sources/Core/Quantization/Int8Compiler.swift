import CKernels

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
        let inputSlots = Set(graph.inputs.compactMap { f32Slot[$0.name] })
        for output in graph.outputs {
            var slot = try f32(output)
            if inputSlots.contains(slot) {
                // Input buffers are the caller's memory; an output must own its buffer.
                let copy = newSlot(u8: false, for: output)
                steps.append(.copy(src: slot, dst: copy, bytesPerSample: slots[slot].perSample * 4))
                slot = copy
            }
            outputSlots[output] = slot
        }
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

    /// One sample's pooling or convolution geometry from the shapes of the values themselves
    /// (a buffer shared through a reshape may be labelled with another shape).
    private func geometry(_ input: String, _ output: String, _ window: Window2D) -> sk_conv_geom {
        let x = Array(sampleShapes[input]!)
        let y = Array(sampleShapes[output]!)
        return sk_conv_geom(input: [1] + x, window: window, outHeight: y.count == 3 ? y[0] : 1, outWidth: y.count == 3 ? y[1] : 1)
    }

    /// The int32 bias of a layer: stored codes, or the float initializer quantized at
    /// scale s_in · s_w.
    private func quantizedBias(_ name: String?, inputScale: Float, weight: QuantizedWeight) throws(ModelError) -> QuantizedBias? {
        guard let name else { return nil }
        if let b = spec.biases[name] { return b }
        guard let bias = graph.initializers[name] else {
            throw ModelError(.invalidGraph, "bias '\(name)' must be a constant to run in int8")
        }
        return try Self.quantizeBias(bias, inputScale: inputScale, weight: weight, name: name)
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
                steps.append(.maxPool(src: src, dst: dst, geometry(x, node.output, window), zeroPoint: UInt8(params[x]!.zeroPoint)))
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
            let qbias = try quantizedBias(biasName, inputScale: inQ.scale, weight: weight)
            let dst = newSlot(u8: output.isU8, for: out)
            steps.append(
                .dense(DenseStep(src: src, dst: dst, weight: weight, bias: qbias, floatBias: nil, inputQuant: inQ, output: output, backend: backend)))
            if output.isU8 { u8Slot[out] = dst } else { f32Slot[out] = dst }
            if activation == .relu6, !output.isU8 { try applyFloat(.relu6, to: out) }
        } else {
            let src = try f32(node.inputs[0])
            var floatBias: [Float]?
            if let biasName {
                guard let bias = graph.initializers[biasName] else {
                    throw ModelError(.invalidGraph, "bias '\(biasName)' must be a constant to run in int8")
                }
                floatBias = bias.scalars
            }
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
        guard let inQ = params[x] else { return false }
        let activation = fusableActivation(after: node)
        let out = activation?.output ?? node.output
        let output: LayerOutput
        if wantsU8(out), let q = params[out] {
            let (lo, hi) = clampRange(activation?.op, q)
            output = .u8(q, min: lo, max: hi)
        } else if case .conv2d = node.op {
            output = .f32(relu: activation?.op == .relu)
        } else if let q = params[out] {
            // Depthwise layers only requantize; float readers dequantize the result.
            let (lo, hi) = clampRange(activation?.op, q)
            output = .u8(q, min: lo, max: hi)
        } else {
            return false
        }
        guard let src = try u8(x) else { return false }
        _ = fuse(node)
        let qbias = try quantizedBias(node.inputs.count > 2 ? node.inputs[2] : nil, inputScale: inQ.scale, weight: weight)
        let dst = newSlot(u8: output.isU8, for: out)
        steps.append(
            .conv(ConvStep(
                src: src, dst: dst, op: node.op, weight: weight, bias: qbias, inputShape: Array(sampleShapes[x]!),
                outputShape: Array(sampleShapes[node.output]!), inputQuant: inQ, output: output, backend: backend)))
        if output.isU8 { u8Slot[out] = dst } else { f32Slot[out] = dst }
        if activation?.op == .relu6, !output.isU8 { try applyFloat(.relu6, to: out) }
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
                src: src, dst: dst, geometry(x, node.output, window), countIncludePad: countIncludePad, zin: inQ.zeroPoint,
                k: inQ.scale / outQ.scale,
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
