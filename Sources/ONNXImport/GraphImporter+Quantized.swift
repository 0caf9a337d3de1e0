import Core

extension GraphImporter {
    // MARK: - QuantizeLinear and DequantizeLinear on activations

    mutating func importQuantize(_ node: Onnx_NodeProto) throws(ModelError) {
        let x = try value(node.input[0], of: node)
        guard !x.isInteger else { throw node.error("quantizes a tensor that is already quantized") }
        var y = try attach(try activationParams(node, scale: 1, zeroPoint: 2), to: x, node: node)
        y.isInteger = true
        values[node.output[0]] = y
    }

    mutating func importDequantize(_ node: Onnx_NodeProto) throws(ModelError) {
        let x = try value(node.input[0], of: node)
        guard x.isInteger, let q = x.quant else { throw node.error("dequantizes a float tensor") }
        try expect(q, node, scale: 1, zeroPoint: 2, role: "input")
        var y = x
        y.isInteger = false
        values[node.output[0]] = y
    }

    /// Activation parameters from the scalar scale and zero point inputs of `node`; an int8 zero
    /// point becomes the equivalent uint8 one (+128). The scale must be a normal positive float32
    /// (Starling divides by it) and the zero point a uint8 code, as Core's int8 kernels assume.
    func activationParams(_ node: Onnx_NodeProto, scale i: Int, zeroPoint j: Int) throws(ModelError) -> ActivationQuant {
        guard let s = try constantInput(i, of: node, "scale"), let value = s.scalar else {
            throw node.error("needs one scale per tensor; Starling quantizes activations per tensor")
        }
        let scale = Float(value)
        guard scale > 0, scale.isNormal else {
            throw node.error(.invalidGraph, "has activation scale \(value); it must be finite and positive")
        }
        var code: Double = 0
        if let z = try constantInput(j, of: node, "zero point") {
            guard let v = z.scalar else { throw node.error("needs one zero point per tensor") }
            switch z.type {
            case .uint8: code = v
            case .int8: code = v + 128
            default: throw node.error("quantizes to \(z.type); Starling's activations are 8-bit (uint8 or int8)")
            }
        }
        guard let zero = Int32(exactly: code), (0...255).contains(zero) else {
            throw node.error(.invalidGraph, "has activation zero point \(code) (as uint8); it must be a code in 0...255")
        }
        return ActivationQuant(scale: scale, zeroPoint: zero)
    }

    /// Checks that the parameters `node` gives for an input match the ones it was quantized with.
    private func expect(_ q: ActivationQuant, _ node: Onnx_NodeProto, scale i: Int, zeroPoint j: Int, role: String)
        throws(ModelError)
    {
        let given = try activationParams(node, scale: i, zeroPoint: j)
        guard given.zeroPoint == q.zeroPoint, abs(given.scale - q.scale) <= 1e-6 * q.scale else {
            throw node.error(
                "reads its \(role) with scale \(given.scale) and zero point \(given.zeroPoint), but it was quantized with "
                    + "\(q.scale) and \(q.zeroPoint); Starling cannot requantize between them")
        }
    }

    /// `x` carrying activation parameters `q`. Quantizing to zero point 0 clamps negatives to zero,
    /// so a ReLU is inserted there (the quantizer folded one in); int8 programs fuse it into the layer.
    mutating func attach(_ q: ActivationQuant, to x: Value, node: Onnx_NodeProto) throws(ModelError) -> Value {
        var y = x
        if q.zeroPoint == 0 && !x.nonNegative && !inputs.contains(where: { $0.name == x.name }) {
            y.name = emit(.relu, [x.name], for: node)
            y.nonNegative = true
        } else if let existing = activations[x.name], existing != q {
            throw node.error(
                "quantizes '\(x.name)' with parameters different from an earlier QuantizeLinear; Starling keeps one per tensor")
        }
        activations[y.name] = q
        y.quant = q
        isQuantized = true
        // Reshapes pass uint8 codes through unchanged, so what they read shares their parameters.
        var current = y.name
        while let producer = nodes.last(where: { $0.output == current }),
            producer.op == .flatten || producer.op.kind == "reshape",
            activations[producer.inputs[0]] == nil, initializers[producer.inputs[0]] == nil
        {
            activations[producer.inputs[0]] = q
            current = producer.inputs[0]
        }
        return y
    }

    // MARK: - QOperator layers

    mutating func importQLinearConv(_ node: Onnx_NodeProto) throws(ModelError) {
        let x = try quantizedInput(node)
        let (w, scales) = try integerWeight(node, weight: 3, scale: 4, zeroPoint: 5, axis: 0)
        let outQ = try activationParams(node, scale: 6, zeroPoint: 7)
        var bias: ConstantTensor?
        if let b = try constantInput(8, of: node, "bias") {
            guard b.type == .int32, b.count == w.shape[0] else {
                throw node.error("needs an int32 bias with one value per output channel")
            }
            let biasScales = (0..<b.count).map { x.quant!.scale * (scales.count == 1 ? scales[0] : scales[$0]) }
            bias = Self.dequantized(b, scales: biasScales, zeroPoints: [0], axis: 0)
        }
        let y = try emitConv(
            node, x: x, weight: w, bias: bias, weightName: Self.floatName(node.input[3]),
            biasName: node.input(8).map(Self.floatName) ?? "")
        var out = try attach(outQ, to: y, node: node)
        out.isInteger = true
        values[node.output[0]] = out
    }

    mutating func importQLinearMatMul(_ node: Onnx_NodeProto) throws(ModelError) {
        let a = try quantizedInput(node)
        guard a.shape.count == 2 else {
            throw node.error("multiplies a \(a.shape.count)-D tensor; Starling imports 2-D products")
        }
        let (b, _) = try integerWeight(node, weight: 3, scale: 4, zeroPoint: 5, axis: 1)
        guard b.shape.count == 2 else { throw node.error("has a \(b.shape.count)-D weight; Starling imports matrices") }
        let outQ = try activationParams(node, scale: 6, zeroPoint: 7)
        let (w, _) = try addDenseWeight(b.permuted([1, 0]), for: a, alpha: 1, node: node, base: Self.floatName(node.input[3]))
        let y = Value(name: emit(.dense, [a.name, w], for: node), shape: [a.shape[0], b.shape[1]])
        var out = try attach(outQ, to: y, node: node)
        out.isInteger = true
        values[node.output[0]] = out
    }

    /// Input 0 of a QLinear node: a quantized tensor whose parameters match inputs 1 and 2.
    private func quantizedInput(_ node: Onnx_NodeProto) throws(ModelError) -> Value {
        let x = try value(node.input[0], of: node)
        guard x.isInteger, let q = x.quant else { throw node.error("needs a quantized input; '\(node.input[0])' is float") }
        try expect(q, node, scale: 1, zeroPoint: 2, role: "input")
        return x
    }

    /// A constant int8 weight with scales per tensor or along `axis`, dequantized with its codes kept.
    private func integerWeight(
        _ node: Onnx_NodeProto, weight i: Int, scale j: Int, zeroPoint k: Int, axis: Int
    ) throws(ModelError) -> (ConstantTensor, [Float]) {
        guard let w = try constantInput(i, of: node, "weight"), let s = try constantInput(j, of: node, "weight scale") else {
            throw node.error(.invalidGraph, "has no weight or weight scale")
        }
        guard w.type == .int8 else { throw node.error("has \(w.type) weights; Starling's int8 path needs int8 weights") }
        guard w.shape.count > axis, s.count == 1 || s.count == w.shape[axis] else {
            throw node.error("has \(s.count) weight scales for weight \(w.shape); Starling needs one per output channel or one")
        }
        if let z = try constantInput(k, of: node, "weight zero point"), z.values.contains(where: { $0 != 0 }) {
            throw node.error("has a nonzero int8 weight zero point; Starling's int8 weights are symmetric (zero point 0)")
        }
        let scales = try Self.weightScales(s.values, node)
        return (Self.dequantized(w, scales: scales, zeroPoints: [0], axis: s.count == 1 ? nil : axis), scales)
    }

    // MARK: - Constants

    /// Weight scales as float32, each a normal (finite, nonzero) float: int8 layers multiply by them
    /// and bias quantization divides by them. A negative scale only flips signs, so it is kept.
    static func weightScales(_ values: [Double], _ node: Onnx_NodeProto) throws(ModelError) -> [Float] {
        let scales = values.map { Float($0) }
        if let bad = scales.first(where: { !$0.isNormal }) {
            throw node.error(.invalidGraph, "has weight scale \(bad); weight scales must be finite and nonzero")
        }
        return scales
    }

    /// The float tensor (code − zero point) · scale, remembering the codes; scales run along `axis` (nil: one scale).
    static func dequantized(_ codes: ConstantTensor, scales: [Float], zeroPoints: [Double], axis: Int?) -> ConstantTensor {
        let inner = axis.map { codes.shape[($0 + 1)...].reduce(1, *) } ?? codes.count
        let channels = axis.map { codes.shape[$0] } ?? 1
        var values = [Double](repeating: 0, count: codes.count)
        for i in 0..<codes.count {
            let c = axis == nil ? 0 : (i / max(inner, 1)) % channels
            let zero = zeroPoints.count == 1 ? zeroPoints[0] : zeroPoints[c]
            let scale = scales.count == 1 ? scales[0] : scales[c]
            values[i] = Double(Float(codes.values[i] - zero) * scale)
        }
        let origin = QuantizedOrigin(codes: codes.values, scales: scales, zeroPoints: zeroPoints, axis: axis, type: codes.type)
        return ConstantTensor(shape: codes.shape, values: values, type: .float, origin: origin)
    }

    /// A readable Starling name for a quantized initializer: "fc1.weight_quantized" → "fc1.weight".
    static func floatName(_ name: String) -> String {
        name.hasSuffix("_quantized") ? String(name.dropLast("_quantized".count)) : name
    }
}
