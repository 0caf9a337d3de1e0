import Core

extension GraphImporter {
    /// The outputs of a node whose inputs are all constants, computed at import time. Each output is
    /// checked like a decoded initializer: a fold that leaves an integer type's range (a Cast of 400
    /// to uint8, an int8 Add that overflows) is refused here rather than trapping where the codes are narrowed.
    mutating func fold(_ node: Onnx_NodeProto) throws(ModelError) -> [ConstantTensor] {
        let outputs = try foldedOutputs(node)
        for tensor in outputs {
            try tensor.validate { node.error(.invalidGraph, "folds (from its constant inputs) to \($0)") }
        }
        return outputs
    }

    private mutating func foldedOutputs(_ node: Onnx_NodeProto) throws(ModelError) -> [ConstantTensor] {
        let inputs = node.input.map { $0.isEmpty ? nil : constants[$0] }
        guard let x = inputs.first ?? nil else {
            throw node.error("has no inputs; Starling folds only nodes computed from constants")
        }
        switch node.opType {
        case "Identity", "Dropout":
            return [x]
        case "Cast":
            return [try cast(x, to: node.int("to") ?? 0, node)]
        case "Transpose":
            let perm = node.ints("perm") ?? Array((0..<x.shape.count).reversed())
            guard perm.sorted() == Array(0..<x.shape.count) else { throw node.error(.invalidGraph, "has invalid perm \(perm)") }
            return [x.permuted(perm)]
        case "Reshape":
            let target = opset < 5 ? node.ints("shape") : (inputs.count > 1 ? inputs[1]?.integers : nil)
            guard let target else { throw node.error(.invalidGraph, "has no integer target shape") }
            return [x.reshaped(try Self.reshapeTarget(x.shape, to: target, allowZero: node.int("allowzero") ?? 0 != 0, node))]
        case "Flatten":
            var axis = node.int("axis") ?? 1
            if axis < 0 { axis += x.shape.count }
            guard (0...x.shape.count).contains(axis) else { throw node.error(.invalidGraph, "has axis \(axis)") }
            return [x.reshaped([x.shape[..<axis].reduce(1, *), x.shape[axis...].reduce(1, *)])]
        case "Squeeze", "Unsqueeze":
            let axes = opset < 13 ? node.ints("axes") : (inputs.count > 1 ? inputs[1]?.integers : nil)
            let shape = try Self.squeezed(x.shape, axes: axes, unsqueeze: node.opType == "Unsqueeze", node)
            guard shape.reduce(1, *) == x.count else { throw node.error(.invalidGraph, "squeezes axes that are not of size 1") }
            return [x.reshaped(shape)]
        case "Concat":
            return [try concat(inputs.compactMap { $0 }, node)]
        case "Add", "Sub", "Mul", "Div":
            guard inputs.count == 2, let y = inputs[1] else { throw node.error(.invalidGraph, "needs two inputs") }
            return [try arithmetic(node.opType, x, y, node)]
        case "Relu":
            var y = x
            y.values = x.values.map { max($0, 0) }
            y.origin = nil
            return [y]
        case "DequantizeLinear":
            return [try dequantizeConstant(node, inputs)]
        case "QuantizeLinear":
            return [try quantizeConstant(node, inputs)]
        default:
            throw node.error("computes from constants only, and Starling cannot fold \(node.opType) at import time")
        }
    }

    private func cast(_ x: ConstantTensor, to raw: Int, _ node: Onnx_NodeProto) throws(ModelError) -> ConstantTensor {
        guard let code = Int32(exactly: raw), let type = ElementType(rawValue: code) else {
            throw node.error("casts to ONNX type \(raw), which Starling does not import")
        }
        var y = x
        y.type = type
        y.origin = nil
        switch type {
        case .float: y.values = x.values.map { Double(Float($0)) }
        case .double: break
        case .bool: y.values = x.values.map { $0 != 0 ? 1 : 0 }
        default: y.values = x.values.map { $0.rounded(.towardZero) }
        }
        return y
    }

    /// The shape a Reshape of `shape` to `target` produces (ONNX rules: one -1 is inferred, 0 copies
    /// the input dimension unless `allowZero`), resolved by Core's `Graph.reshapeTarget`. The target is
    /// bounded first, so no product of its dimensions can overflow.
    static func reshapeTarget(_ shape: [Int], to target: [Int], allowZero: Bool, _ node: Onnx_NodeProto) throws(ModelError)
        -> [Int]
    {
        try checkReshapeTarget(target, of: shape, allowZero: allowZero, node)
        if allowZero && target.contains(0) {
            // allowzero keeps 0 as a literal size, which leaves nothing to infer a -1 from.
            guard !target.contains(-1), ConstantTensor.elementCount(target) == ConstantTensor.elementCount(shape) else {
                throw node.error(.shapeMismatch, "cannot reshape \(shape) to \(target)")
            }
            return target
        }
        do {
            return try Graph.reshapeTarget(shape, to: target)
        } catch {
            throw node.error(error.code, error.message)
        }
    }

    /// Refuses a Reshape target with an entry below -1, more than one -1, a 0 that copies an axis the
    /// input lacks, or sizes whose product (0s read as the input dimension they copy) passes
    /// `ConstantTensor.maxElements`.
    static func checkReshapeTarget(_ target: [Int], of shape: [Int], allowZero: Bool, _ node: Onnx_NodeProto)
        throws(ModelError)
    {
        guard target.filter({ $0 == -1 }).count <= 1, target.allSatisfy({ $0 >= -1 }) else {
            throw node.error(.invalidGraph, "has an invalid target shape \(target)")
        }
        var sizes: [Int] = []
        for (i, d) in target.enumerated() {
            if d == 0 && !allowZero {
                guard i < shape.count else {
                    throw node.error(.invalidGraph, "copies axis \(i) of a \(shape.count)-D input (target \(target))")
                }
                sizes.append(Swift.max(shape[i], 0))
            } else {
                sizes.append(Swift.max(d, 0))
            }
        }
        guard ConstantTensor.elementCount(sizes) != nil else {
            throw node.error(.invalidGraph, "has an implausibly large target shape \(target)")
        }
    }

    private static func squeezed(_ shape: [Int], axes: [Int]?, unsqueeze: Bool, _ node: Onnx_NodeProto) throws(ModelError)
        -> [Int]
    {
        let rank = unsqueeze ? shape.count + (axes?.count ?? 0) : shape.count
        let normalized = axes.map { Set($0.map { $0 < 0 ? $0 + rank : $0 }) }
        if let axes, let normalized {
            guard normalized.count == axes.count, normalized.allSatisfy({ (0..<rank).contains($0) }) else {
                throw node.error(.invalidGraph, "has invalid axes \(axes) for a \(shape.count)-D input")
            }
        }
        if unsqueeze {
            guard let normalized else { throw node.error(.invalidGraph, "has no axes") }
            var rest = shape.makeIterator()
            return (0..<rank).map { normalized.contains($0) ? 1 : (rest.next() ?? 1) }
        }
        return shape.enumerated().filter { !(normalized?.contains($0.offset) ?? ($0.element == 1)) }.map(\.element)
    }

    private func concat(_ parts: [ConstantTensor], _ node: Onnx_NodeProto) throws(ModelError) -> ConstantTensor {
        guard let first = parts.first, var axis = node.int("axis") else {
            throw node.error(.invalidGraph, "needs inputs and an axis")
        }
        if axis < 0 { axis += first.shape.count }
        guard (0..<first.shape.count).contains(axis),
            parts.allSatisfy({
                $0.shape.count == first.shape.count
                    && $0.shape.enumerated().allSatisfy { $0.offset == axis || $0.element == first.shape[$0.offset] }
            })
        else { throw node.error(.shapeMismatch, "concatenates tensors of different shapes") }
        let outer = first.shape[..<axis].reduce(1, *)
        var values: [Double] = []
        for o in 0..<outer {
            for p in parts {
                let block = p.shape[axis...].reduce(1, *)
                values += p.values[(o * block)..<((o + 1) * block)]
            }
        }
        var shape = first.shape
        shape[axis] = parts.reduce(0) { $0 + $1.shape[axis] }
        return ConstantTensor(shape: shape, values: values, type: first.type)
    }

    private func arithmetic(_ op: String, _ a: ConstantTensor, _ b: ConstantTensor, _ node: Onnx_NodeProto) throws(ModelError)
        -> ConstantTensor
    {
        var b = b
        if opset < 7, node.int("broadcast") ?? 0 != 0, let axis = node.int("axis") {
            guard (0...a.shape.count).contains(axis) else {
                throw node.error(.invalidGraph, "broadcasts \(b.shape) from axis \(axis) of \(a.shape)")
            }
            b = b.reshaped(b.shape + [Int](repeating: 1, count: max(0, a.shape.count - axis - b.shape.count)))
        }
        guard let shape = Graph.broadcast(a.shape, b.shape) else {
            throw node.error(.shapeMismatch, "shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        // Broadcasting is the one fold that can make a constant far larger than its inputs.
        guard let count = ConstantTensor.elementCount(shape), count <= Swift.max(a.count, b.count, Self.maxBroadcastCount) else {
            throw node.error("broadcasts \(a.shape) and \(b.shape) to \(shape), too large a constant to fold")
        }
        let (ia, ib) = (Tensor.broadcastIndices(a.shape, to: shape), Tensor.broadcastIndices(b.shape, to: shape))
        assert(ia.count == count)
        let isFloat = !a.type.isInteger
        let values = zip(ia, ib).map { (i, j) -> Double in
            let (p, q) = (a.values[i], b.values[j])
            if isFloat {
                let (f, g) = (Float(p), Float(q))
                switch op {
                case "Add": return Double(f + g)
                case "Sub": return Double(f - g)
                case "Mul": return Double(f * g)
                default: return Double(f / g)
                }
            }
            switch op {
            case "Add": return p + q
            case "Sub": return p - q
            case "Mul": return p * q
            default: return q == 0 ? 0 : (p / q).rounded(.towardZero)
            }
        }
        return ConstantTensor(shape: shape, values: values, type: a.type)
    }

    /// The largest constant a broadcasting fold may create beyond the size of its larger input.
    static let maxBroadcastCount = 1 << 24

    private mutating func dequantizeConstant(_ node: Onnx_NodeProto, _ inputs: [ConstantTensor?]) throws(ModelError)
        -> ConstantTensor
    {
        guard let x = inputs[0], x.type.isInteger, inputs.count > 1, let s = inputs[1] else {
            throw node.error(.invalidGraph, "needs an integer tensor and a scale")
        }
        let z = inputs.count > 2 ? inputs[2] : nil
        guard s.count >= 1, z.map({ $0.count == s.count }) ?? true else {
            throw node.error(.invalidGraph, "has \(s.count) scale(s) and \(z?.count ?? 0) zero point(s)")
        }
        var axis: Int? = nil
        if s.count > 1 {
            var a = node.int("axis") ?? 1
            if a < 0 { a += x.shape.count }
            guard (0..<x.shape.count).contains(a), x.shape[a] == s.count, z == nil || z!.count == s.count else {
                throw node.error(.shapeMismatch, "has \(s.count) scales for \(x.shape) along axis \(a)")
            }
            axis = a
        }
        let y = Self.dequantized(x, scales: s.values.map { Float($0) }, zeroPoints: z?.values ?? [0], axis: axis)
        constantNames[node.output[0]] = Self.floatName(constantName(node.input[0]))
        return y
    }

    private func quantizeConstant(_ node: Onnx_NodeProto, _ inputs: [ConstantTensor?]) throws(ModelError) -> ConstantTensor {
        guard let x = inputs[0], inputs.count > 1, let s = inputs[1], let scale = s.scalar.map(Float.init) else {
            throw node.error("quantizes a constant with several scales; Starling folds only per-tensor QuantizeLinear")
        }
        guard scale.isFinite, scale > 0 else { throw node.error(.invalidGraph, "has scale \(scale); it must be finite and positive") }
        let z = inputs.count > 2 ? inputs[2] : nil
        let type = z?.type ?? .uint8
        let zero = Float(z?.scalar ?? 0)
        let (low, high): (Float, Float) =
            type == .int8 ? (-128, 127) : (type == .uint8 ? (0, 255) : (-2_147_483_648, 2_147_483_520))
        let values = x.values.map { Double(min(max((Float($0) / scale).rounded(.toNearestOrEven) + zero, low), high)) }
        return ConstantTensor(shape: x.shape, values: values, type: type)
    }
}
