import Core

extension GraphImporter {
    /// The outputs of a node whose inputs are all constants, computed at import time.
    mutating func fold(_ node: Onnx_NodeProto) throws(ModelError) -> [ConstantTensor] {
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
            return [x.reshaped(try Self.resolve(target, from: x.shape, allowZero: node.int("allowzero") ?? 0 != 0, node))]
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
        guard let type = ElementType(rawValue: Int32(raw)) else { throw node.error("casts to ONNX type \(raw)") }
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

    /// A Reshape target with 0 (copy) and -1 (infer) resolved.
    static func resolve(_ target: [Int], from shape: [Int], allowZero: Bool, _ node: Onnx_NodeProto) throws(ModelError) -> [Int] {
        var out = target
        for (i, d) in target.enumerated() where d == 0 && !allowZero {
            guard i < shape.count else { throw node.error(.invalidGraph, "copies axis \(i) of \(shape)") }
            out[i] = shape[i]
        }
        let total = shape.reduce(1, *)
        let unknown = out.indices.filter { out[$0] == -1 }
        guard unknown.count <= 1, out.allSatisfy({ $0 >= -1 }) else {
            throw node.error(.invalidGraph, "has invalid shape \(target)")
        }
        if let i = unknown.first {
            let known = out.enumerated().filter { $0.offset != i }.reduce(1) { $0 * $1.element }
            guard known > 0, total % known == 0 else { throw node.error(.shapeMismatch, "cannot reshape \(shape) to \(target)") }
            out[i] = total / known
        }
        guard out.reduce(1, *) == total else { throw node.error(.shapeMismatch, "cannot reshape \(shape) to \(target)") }
        return out
    }

    private static func squeezed(_ shape: [Int], axes: [Int]?, unsqueeze: Bool, _ node: Onnx_NodeProto) throws(ModelError)
        -> [Int]
    {
        if unsqueeze {
            guard let axes else { throw node.error(.invalidGraph, "has no axes") }
            let rank = shape.count + axes.count
            let normalized = Set(axes.map { $0 < 0 ? $0 + rank : $0 })
            var rest = shape.makeIterator()
            return (0..<rank).map { normalized.contains($0) ? 1 : (rest.next() ?? 1) }
        }
        let normalized = axes.map { Set($0.map { $0 < 0 ? $0 + shape.count : $0 }) }
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
            b = b.reshaped(b.shape + [Int](repeating: 1, count: max(0, a.shape.count - axis - b.shape.count)))
        }
        guard let shape = broadcastShapes(a.shape, b.shape), let x = a.broadcast(to: shape), let y = b.broadcast(to: shape) else {
            throw node.error(.shapeMismatch, "shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        let isFloat = !a.type.isInteger
        let values = zip(x.values, y.values).map { (p, q) -> Double in
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

    private mutating func dequantizeConstant(_ node: Onnx_NodeProto, _ inputs: [ConstantTensor?]) throws(ModelError)
        -> ConstantTensor
    {
        guard let x = inputs[0], x.type.isInteger, inputs.count > 1, let s = inputs[1] else {
            throw node.error(.invalidGraph, "needs an integer tensor and a scale")
        }
        let z = inputs.count > 2 ? inputs[2] : nil
        guard s.count >= 1, z.map({ $0.count >= 1 }) ?? true else {
            throw node.error(.invalidGraph, "has an empty scale or zero point")
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
        let z = inputs.count > 2 ? inputs[2] : nil
        let type = z?.type ?? .uint8
        let zero = Float(z?.scalar ?? 0)
        let (low, high): (Float, Float) =
            type == .int8 ? (-128, 127) : (type == .uint8 ? (0, 255) : (-2_147_483_648, 2_147_483_520))
        let values = x.values.map { Double(min(max((Float($0) / scale).rounded(.toNearestOrEven) + zero, low), high)) }
        return ConstantTensor(shape: x.shape, values: values, type: type)
    }
}
