import Core

extension GraphImporter {
    // MARK: - Gemm and MatMul

    mutating func importGemm(_ node: Onnx_NodeProto) throws(ModelError) {
        let alpha = node.float("alpha") ?? 1
        let beta = node.float("beta") ?? 1
        var a = try value(node.input[0], of: node)
        try requireMatrix(a, node)
        if node.int("transA") ?? 0 != 0 { a = try transposed(a, for: node) }
        let transB = node.int("transB") ?? 0 != 0
        var inputs = [a.name]
        var outCount: Int
        var runtimeAlpha: Float = 1
        var weightScales: [Float]?
        if let b = constants[node.input[1]] {
            guard b.shape.count == 2 else { throw node.error("has a \(b.shape.count)-D B operand; Gemm needs a matrix") }
            let w = transB ? b : b.permuted([1, 0])
            outCount = w.shape[0]
            let (name, quantized) = try addDenseWeight(w, for: a, alpha: alpha, node: node, base: constantName(node.input[1]))
            inputs.append(name)
            weightScales = quantized?.scales
        } else {
            var b = try value(node.input[1], of: node)
            try requireMatrix(b, node)
            try requirePlain(a, node)
            if !transB { b = try transposed(b, for: node) }
            guard b.shape[1] == a.shape[1] else {
                throw node.error(.shapeMismatch, "operands \(a.shape) and \(b.shape) do not multiply")
            }
            outCount = b.shape[0]
            inputs.append(b.name)
            runtimeAlpha = alpha
        }
        var addend: String?
        if let cName = node.input(2), beta != 0 {
            if let c = constants[cName] {
                if (c.count == outCount && c.shape.last == outCount) || c.count == 1, runtimeAlpha == 1 {
                    inputs.append(
                        try addDenseBias(
                            c, count: outCount, beta: beta, input: a, weightScales: weightScales, base: constantName(cName)))
                } else {
                    var scaledC = c
                    scaledC.values = c.values.map { $0 * Double(beta) }
                    addend = addInitializer(constantName(cName), scaledC.tensor)
                }
            } else {
                let c = try value(cName, of: node)
                guard c.layout == .plain, !c.isInteger else { throw node.error("has a C operand in an unsupported layout") }
                addend = beta == 1 ? c.name : try scaled(c, by: beta, for: node).name
            }
        }
        let last = runtimeAlpha == 1 && addend == nil
        var y = Value(name: emit(.dense, inputs, for: node, suffix: last ? "" : "/matmul"), shape: [a.shape[0], outCount])
        if runtimeAlpha != 1 { y = try scaled(y, by: runtimeAlpha, for: node) }
        if let addend {
            y.name = emit(.add, [y.name, addend], for: node)
        }
        values[node.output[0]] = y
    }

    mutating func importMatMul(_ node: Onnx_NodeProto) throws(ModelError) {
        let a = try value(node.input[0], of: node)
        try requireMatrix(a, node)
        guard let b = constants[node.input[1]] else {
            var b = try value(node.input[1], of: node)
            try requireMatrix(b, node)
            try requirePlain(a, node)
            b = try transposed(b, for: node)
            guard b.shape[1] == a.shape[1] else {
                throw node.error(.shapeMismatch, "operands \(a.shape) and \(b.shape) do not multiply")
            }
            values[node.output[0]] = Value(name: emit(.dense, [a.name, b.name], for: node), shape: [a.shape[0], b.shape[0]])
            return
        }
        guard b.shape.count == 2 else { throw node.error("has a \(b.shape.count)-D weight; Starling imports MatMul of matrices") }
        let (w, quantized) = try addDenseWeight(
            b.permuted([1, 0]), for: a, alpha: 1, node: node, base: constantName(node.input[1]))
        let outCount = b.shape[1]
        var inputs = [a.name, w]
        var output = node.output[0]
        if let (addIndex, add, bias) = foldableBias(after: node, count: outCount) {
            let biasName = add.input[0] == output ? add.input[1] : add.input[0]
            inputs.append(
                try addDenseBias(
                    bias, count: outCount, beta: 1, input: a, weightScales: quantized?.scales, base: constantName(biasName)))
            absorbed.insert(addIndex)
            output = add.output[0]
        }
        values[output] = Value(name: emit(.dense, inputs, for: node, output: output), shape: [a.shape[0], outCount])
    }

    /// The Add that only adds a constant vector to MatMul `node`'s output, to fold into the dense bias.
    private func foldableBias(after node: Onnx_NodeProto, count: Int) -> (Int, Onnx_NodeProto, ConstantTensor)? {
        let out = node.output[0]
        let readers = consumers(of: out)
        guard readers.count == 1, !outputNames.contains(out) else { return nil }
        let add = graph.node[readers[0]]
        guard add.opType == "Add", add.domain.isEmpty || add.domain == "ai.onnx", add.input.count == 2 else { return nil }
        let other = add.input[0] == out ? add.input[1] : add.input[0]
        guard other != out, let c = constants[other], c.count == count, c.shape.count <= 2, c.shape.last == count else {
            return nil
        }
        return (readers[0], add, c)
    }

    private func requireMatrix(_ x: Value, _ node: Onnx_NodeProto) throws(ModelError) {
        guard x.shape.count == 2, x.layout != .channelsLast else {
            throw node.error("multiplies a \(x.shape.count)-D tensor \(x.shape); Starling imports products of 2-D tensors")
        }
        guard !x.isInteger else { throw node.error("reads a quantized (integer) tensor; use QLinearMatMul or dequantize it") }
    }

    /// Refuses a flattened NCHW operand where only a constant weight could be reordered to match it.
    private func requirePlain(_ x: Value, _ node: Onnx_NodeProto) throws(ModelError) {
        guard x.layout == .plain else {
            throw node.error(
                "multiplies a flattened NCHW tensor by a computed matrix; only constant weights can follow NHWC order")
        }
    }

    // MARK: - Weights and biases

    /// Adds dense weight `w` ([out, in], columns in ONNX order) for input `x`, with its int8 codes
    /// when it was quantized, and returns its name.
    mutating func addDenseWeight(
        _ w: ConstantTensor, for x: Value, alpha: Float, node: Onnx_NodeProto, base: String
    ) throws(ModelError) -> (String, QuantizedWeight?) {
        var w = w
        let (outCount, inCount) = (w.shape[0], w.shape[1])
        guard inCount == x.shape[1] else {
            throw node.error(.shapeMismatch, "weight [\(outCount), \(inCount)] does not fit input \(x.shape)")
        }
        if case .flatChannelsLast(let channels, let positions) = x.layout {
            // Columns follow ONNX's (c, h, w) flattening; Starling flattens NHWC in (h, w, c) order.
            w = w.reshaped([outCount, channels, positions]).permuted([0, 2, 1]).reshaped([outCount, inCount])
        }
        if alpha != 1 {
            w.values = w.values.map { $0 * Double(alpha) }
            if var o = w.origin {
                o.scales = o.scales.map { $0 * alpha }
                w.origin = o
            }
        }
        let name = addInitializer(base, w.tensor)
        let quantized = try quantizedWeight(w, outputAxis: 0, name: base)
        if let quantized { weights[name] = quantized }
        return (name, quantized)
    }

    /// Adds a dense or convolution bias of `count` elements (times `beta`) and returns its name;
    /// int32 codes are kept when their scale is input scale × weight scale, as Starling's kernels need.
    mutating func addDenseBias(
        _ c: ConstantTensor, count: Int, beta: Float, input: Value, weightScales: [Float]?, base: String
    ) throws(ModelError) -> String {
        let values = c.count == count ? c.values : [Double](repeating: c.values[0], count: count)
        let name = addInitializer(base, Tensor(shape: [count], scalars: values.map { Float($0 * Double(beta)) }))
        if beta == 1, c.count == count, let o = c.origin, o.type == .int32, o.zeroPoints.allSatisfy({ $0 == 0 }),
            let inScale = input.quant?.scale, let weightScales
        {
            let scales = (0..<count).map { o.scales.count == 1 ? o.scales[0] : o.scales[$0] }
            let expected = (0..<count).map { inScale * (weightScales.count == 1 ? weightScales[0] : weightScales[$0]) }
            if zip(scales, expected).allSatisfy({ abs($0 - $1) <= 1e-6 * abs($1) }) {
                var codes: [Int32] = []
                codes.reserveCapacity(count)
                for v in o.codes {
                    guard let code = Int32(exactly: v) else {
                        throw ModelError(.invalidGraph, "bias '\(base)' holds code \(v), which int32 cannot hold")
                    }
                    codes.append(code)
                }
                biases[name] = QuantizedBias(values: codes, scales: expected)
            }
        }
        return name
    }

    /// The int8 codes of a dequantized weight whose channels run along `outputAxis`; nil for float weights.
    func quantizedWeight(_ w: ConstantTensor, outputAxis: Int, name: String) throws(ModelError) -> QuantizedWeight? {
        guard let o = w.origin else { return nil }
        guard o.type == .int8 else {
            throw ModelError(
                .unsupportedOp, "weight '\(name)' is quantized as \(o.type); Starling's int8 path needs int8 weights")
        }
        guard o.zeroPoints.allSatisfy({ $0 == 0 }) else {
            throw ModelError(
                .unsupportedOp,
                "weight '\(name)' has a nonzero int8 zero point; Starling's int8 weights are symmetric (zero point 0)")
        }
        if o.scales.count > 1 && o.axis != outputAxis {
            throw ModelError(
                .unsupportedOp, "weight '\(name)' is quantized per channel along an axis other than its output channels")
        }
        if let bad = o.scales.first(where: { !$0.isNormal }) {
            throw ModelError(.invalidGraph, "weight '\(name)' has scale \(bad); weight scales must be finite and nonzero")
        }
        var codes: [Int8] = []
        codes.reserveCapacity(o.codes.count)
        for v in o.codes {
            guard let code = Int8(exactly: v) else {
                throw ModelError(.invalidGraph, "weight '\(name)' holds code \(v), which int8 cannot hold")
            }
            codes.append(code)
        }
        return QuantizedWeight(shape: w.shape, values: codes, scales: o.scales, axis: outputAxis)
    }

    // MARK: - Run-time matrix helpers

    /// `x`ᵀ for a fixed-size 2-D run-time tensor, computed as dense(I, x).
    mutating func transposed(_ x: Value, for node: Onnx_NodeProto) throws(ModelError) -> Value {
        guard x.shape.count == 2, !x.batched, x.layout == .plain else {
            throw node.error("needs computed tensor \(x.shape) transposed; Starling transposes only fixed-size 2-D tensors")
        }
        let (rows, cols) = (x.shape[0], x.shape[1])
        let eye = addInitializer("\(x.name).identity", try Self.identity(cols, scale: 1, node), frozen: true)
        return Value(name: emit(.dense, [eye, x.name], for: node, suffix: "/transpose"), shape: [cols, rows])
    }

    /// `s`·x for a 2-D run-time tensor, computed as dense(x, s·I).
    mutating func scaled(_ x: Value, by s: Float, for node: Onnx_NodeProto) throws(ModelError) -> Value {
        guard x.shape.count == 2, x.layout == .plain else {
            throw node.error("needs computed tensor \(x.shape) scaled; Starling scales only 2-D tensors")
        }
        let matrix = addInitializer("\(x.name).scale", try Self.identity(x.shape[1], scale: s, node), frozen: true)
        return Value(name: emit(.dense, [x.name, matrix], for: node, suffix: "/scale"), shape: x.shape)
    }

    /// The largest side of the n × n matrix `identity` builds (a 4096 × 4096 float32 matrix is 64 MiB).
    static let maxIdentitySize = 4096

    /// `scale` times the n × n identity, the weight of a run-time transpose or scaling.
    static func identity(_ n: Int, scale: Float, _ node: Onnx_NodeProto) throws(ModelError) -> Tensor {
        guard n <= maxIdentitySize else {
            throw node.error("needs a \(n) × \(n) matrix to transpose or scale a computed tensor; Starling builds them up to \(maxIdentitySize)")
        }
        var t = Tensor(shape: [n, n])
        for i in 0..<n { t.scalars[i * n + i] = scale }
        return t
    }
}
