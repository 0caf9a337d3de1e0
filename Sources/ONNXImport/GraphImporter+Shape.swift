import Core

extension GraphImporter {
    // MARK: - Flatten and Reshape

    mutating func importFlatten(_ node: Onnx_NodeProto) throws(ModelError) {
        let x = try value(node.input[0], of: node)
        let rank = x.shape.count
        var axis = node.int("axis") ?? 1
        if axis < 0 { axis += rank }
        guard (0...rank).contains(axis) else { throw node.error(.invalidGraph, "has axis \(axis) for a \(rank)-D input") }
        if !x.batched {
            guard x.layout == .plain else { throw node.error("flattens an unbatched tensor in a converted layout") }
            let target = [x.shape[..<axis].reduce(1, *), x.shape[axis...].reduce(1, *)]
            values[node.output[0]] = passThrough(x, .reshape(shape: target), shape: target, layout: .plain, node: node)
            return
        }
        guard axis == 1 else {
            throw node.error(
                "flattens at axis \(axis), which folds the batch into another dimension; Starling keeps axis 0 as the batch")
        }
        let shape = [-1, x.shape.dropFirst().reduce(1, *)]
        try reshapeKeepingBatch(x, to: shape, node: node)
    }

    mutating func importReshape(_ node: Onnx_NodeProto) throws(ModelError) {
        let x = try value(node.input[0], of: node)
        let target: [Int]
        if opset < 5 {
            target = node.ints("shape") ?? []
        } else {
            guard let c = try constantInput(1, of: node, "shape"), let ints = c.integers else {
                throw node.error(.invalidGraph, "has no constant integer target shape")
            }
            target = ints
        }
        if (node.int("allowzero") ?? 0) != 0 && target.contains(0) {
            throw node.error(.invalidGraph, "has a zero-size target shape \(target) (allowzero)")
        }
        try Self.checkReshapeTarget(target, of: x.shape, allowZero: false, node)
        if !x.batched {
            guard x.layout == .plain else { throw node.error("reshapes an unbatched tensor in a converted layout") }
            let resolved = try Self.reshapeTarget(x.shape, to: target, allowZero: false, node)
            values[node.output[0]] = passThrough(x, .reshape(shape: resolved), shape: resolved, layout: .plain, node: node)
            return
        }
        // Axis 0 stays the batch when the target copies it (0) or infers it (-1, leaving no other -1);
        // the rest of the target then reshapes one sample, with 0s still copying the matching input axis.
        guard let first = target.first, first == 0 || first == -1 else {
            throw node.error("reshapes the batch dimension (target \(target)); Starling keeps axis 0 as the batch")
        }
        let rest: [Int]
        do {
            rest = try Graph.reshapeTarget(Array(x.shape.dropFirst()), to: Array(target.dropFirst()))
        } catch {
            if first == -1 {
                throw node.error("reshapes \(x.shape) to \(target), which moves elements across samples")
            }
            throw node.error(.shapeMismatch, "cannot reshape \(x.shape) to \(target)")
        }
        try reshapeKeepingBatch(x, to: [-1] + rest, node: node)
    }

    /// Reshapes a batched value to ONNX shape `shape` (batch first), honouring its layout.
    private mutating func reshapeKeepingBatch(_ x: Value, to shape: [Int], node: Onnx_NodeProto) throws(ModelError) {
        let out = node.output[0]
        if shape == x.shape {
            values[out] = x
            return
        }
        switch x.layout {
        case .plain:
            let op: Op = shape.count == 2 ? .flatten : .reshape(shape: [0] + shape.dropFirst())
            values[out] = passThrough(x, op, shape: shape, layout: .plain, node: node)
        case .channelsLast:
            let (channels, positions) = x.channelsAndPositions
            if shape.count == 2 {
                let layout: Layout =
                    channels == 1 || positions == 1 ? .plain : .flatChannelsLast(channels: channels, positions: positions)
                values[out] = passThrough(x, .flatten, shape: shape, layout: layout, node: node)
            } else if channels == 1 || positions == 1 {
                values[out] = passThrough(x, .reshape(shape: [0] + shape.dropFirst()), shape: shape, layout: .plain, node: node)
            } else {
                throw node.error(
                    "reshapes NCHW tensor \(x.shape) to \(shape); Starling stores it as NHWC and supports only flattening it to "
                        + "[N, C·H·W] (or reshapes that keep one channel or one position)")
            }
        case .flatChannelsLast(let channels, let positions):
            guard (shape.count == 3 || shape.count == 4), shape[1] == channels, shape[2...].reduce(1, *) == positions else {
                throw node.error(
                    "reshapes a flattened NCHW tensor (stored in NHWC order) to \(shape); only restoring its [N, C, H, W] shape is supported"
                )
            }
            var y = x
            y.shape = shape
            y.layout = .channelsLast
            values[out] = passThrough(
                x, .reshape(shape: [0] + y.ourShape.dropFirst()), shape: shape, layout: .channelsLast, node: node)
        }
    }

    /// Emits a reshape-like `op` that keeps element values (and so any quantization) of `x`.
    private mutating func passThrough(_ x: Value, _ op: Op, shape: [Int], layout: Layout, node: Onnx_NodeProto) -> Value {
        var y = x
        y.name = emit(op, [x.name], for: node)
        y.shape = shape
        y.layout = layout
        if x.isInteger, let q = x.quant { activations[y.name] = q }
        return y
    }

    // MARK: - Softmax

    mutating func importSoftmax(_ node: Onnx_NodeProto) throws(ModelError) {
        let x = try value(node.input[0], of: node)
        guard !x.isInteger else { throw node.error("reads a quantized (integer) tensor; dequantize it first") }
        let rank = x.shape.count
        var axis = node.int("axis") ?? (opset < 13 ? 1 : -1)
        if axis < 0 { axis += rank }
        guard (0..<rank).contains(axis) else { throw node.error(.invalidGraph, "has axis \(axis) for a \(rank)-D input") }
        let y = Value(name: "", shape: x.shape, layout: x.layout, nonNegative: true)
        // Before opset 13 Softmax normalizes all axes from `axis` on together, so their order does not matter.
        let overRest = opset < 13 && axis == 1 && x.batched
        let lastOfOurs: Bool
        switch x.layout {
        case .plain: lastOfOurs = axis == rank - 1
        case .channelsLast: lastOfOurs = opset >= 13 && axis == 1
        case .flatChannelsLast: lastOfOurs = axis == 1
        }
        if lastOfOurs {
            values[node.output[0]] = with(y, name: emit(.softmax, [x.name], for: node))
        } else if overRest {
            let flat = emit(.flatten, [x.name], for: node, suffix: "/flatten")
            let soft = emit(.softmax, [flat], for: node, suffix: "/softmax")
            values[node.output[0]] = with(y, name: emit(.reshape(shape: [0] + x.ourShape.dropFirst()), [soft], for: node))
        } else {
            throw node.error(
                "normalizes over axis \(axis) of \(x.shape) (opset \(opset)); Starling's Softmax normalizes the last axis only")
        }
    }

    private func with(_ v: Value, name: String) -> Value {
        var v = v
        v.name = name
        return v
    }

    // MARK: - Add

    mutating func importAdd(_ node: Onnx_NodeProto) throws(ModelError) {
        let operands = node.input.filter { !$0.isEmpty }
        guard let first = operands.first else { throw node.error(.invalidGraph, "has no inputs") }
        guard operands.count <= 2 || node.opType == "Sum" else { throw node.error(.invalidGraph, "has \(operands.count) inputs") }
        var acc: Value
        var rest = Array(operands.dropFirst())
        if let v = values[first] {
            acc = v
        } else if let i = rest.firstIndex(where: { values[$0] != nil }) {
            acc = values[rest.remove(at: i)]!
            rest.insert(first, at: 0)
        } else {
            throw node.error(.invalidGraph, "reads no computed tensor")
        }
        guard !acc.isInteger else { throw node.error("reads a quantized (integer) tensor; dequantize it first") }
        for (k, name) in rest.enumerated() {
            let suffix = k == rest.count - 1 ? "" : "/\(k)"
            if let c = constants[name] {
                let ours = try constantOperand(c, for: acc, node: node)
                let initName = addInitializer(constantName(name), ours.tensor)
                let shape = try broadcast(acc.shape, try legacyAligned(c, to: acc, node: node).shape, node)
                acc = Value(name: emit(.add, [acc.name, initName], for: node, suffix: suffix), shape: shape, layout: acc.layout)
            } else {
                let b = try value(name, of: node)
                guard !b.isInteger else { throw node.error("reads a quantized (integer) tensor; dequantize it first") }
                guard b.layout == acc.layout, b.shape.count == acc.shape.count || acc.layout == .plain else {
                    throw node.error("adds tensors stored in different layouts (\(acc.shape) and \(b.shape))")
                }
                if opset < 7, node.int("broadcast") ?? 0 != 0, let axis = node.int("axis"),
                    axis != acc.shape.count - b.shape.count
                {
                    throw node.error("broadcasts a computed operand from axis \(axis); only trailing alignment is supported")
                }
                let shape = try broadcast(acc.shape, b.shape, node)
                acc = Value(name: emit(.add, [acc.name, b.name], for: node, suffix: suffix), shape: shape, layout: acc.layout)
            }
        }
        values[node.output[0]] = acc
    }

    /// The ONNX shape of a sum of values shaped `a` and `b` (Core's `Graph.broadcast`). A -1 batch
    /// broadcasts against 1 or another batch only: fixing the batch to a constant's size would make
    /// the model accept just that one batch size.
    private func broadcast(_ a: [Int], _ b: [Int], _ node: Onnx_NodeProto) throws(ModelError) -> [Int] {
        guard let shape = Graph.broadcast(a, b) else {
            throw node.error(.shapeMismatch, "shapes \(a) and \(b) do not broadcast (-1 is the batch, which broadcasts only with 1)")
        }
        try checkSize(shape, node)
        return shape
    }

    /// A constant operand with opset < 7 `axis` broadcasting turned into numpy (trailing) alignment.
    private func legacyAligned(_ c: ConstantTensor, to x: Value, node: Onnx_NodeProto) throws(ModelError) -> ConstantTensor {
        guard opset < 7, node.int("broadcast") ?? 0 != 0, let axis = node.int("axis") else { return c }
        guard (0...x.shape.count).contains(axis), x.shape.count - axis - c.shape.count >= 0 else {
            throw node.error(.invalidGraph, "broadcasts \(c.shape) from axis \(axis) of \(x.shape)")
        }
        return c.reshaped(c.shape + [Int](repeating: 1, count: x.shape.count - axis - c.shape.count))
    }

    /// A constant operand rearranged to broadcast against `x` in the layout Starling stores it in.
    private func constantOperand(_ c: ConstantTensor, for x: Value, node: Onnx_NodeProto) throws(ModelError) -> ConstantTensor {
        let c = try legacyAligned(c, to: x, node: node)
        switch x.layout {
        case .plain:
            return c
        case .channelsLast:
            let rank = x.shape.count
            guard c.shape.count <= rank else { throw node.error(.shapeMismatch, "adds \(c.shape) to \(x.shape)") }
            let padded = c.reshaped([Int](repeating: 1, count: rank - c.shape.count) + c.shape)
            guard padded.shape[0] == 1 else { throw node.error("adds a constant with a batch dimension \(c.shape)") }
            if rank == 4 { return padded.permuted([0, 2, 3, 1]) }
            let moved = padded.permuted([0, 2, 1])
            return moved.reshaped([1, 1] + moved.shape.dropFirst())
        case .flatChannelsLast(let channels, let positions):
            if c.count == 1 { return c }
            guard c.shape.last == channels * positions, c.count == channels * positions else {
                throw node.error("adds \(c.shape) to a flattened NCHW tensor; only per-feature vectors are supported")
            }
            return c.reshaped([channels, positions]).permuted([1, 0]).reshaped(c.shape)
        }
    }
}
