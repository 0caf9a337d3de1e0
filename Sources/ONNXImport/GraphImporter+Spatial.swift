import Core

extension GraphImporter {
    // MARK: - Convolution

    mutating func importConv(_ node: Onnx_NodeProto) throws(ModelError) {
        let x = try value(node.input[0], of: node)
        guard !x.isInteger else { throw node.error("reads a quantized (integer) tensor; use QLinearConv or dequantize it") }
        guard let w = try constantInput(1, of: node, "weight") else { throw node.error(.invalidGraph, "has no weight") }
        let bias = try constantInput(2, of: node, "bias")
        values[node.output[0]] = try emitConv(
            node, x: x, weight: w, bias: bias, weightName: constantName(node.input[1]),
            biasName: node.input(2).map(constantName) ?? "")
    }

    /// Emits a 1-D or 2-D convolution of `x` (NCHW in ONNX) and returns its output value.
    mutating func emitConv(
        _ node: Onnx_NodeProto, x input: Value, weight w: ConstantTensor, bias: ConstantTensor?, weightName: String,
        biasName: String
    ) throws(ModelError) -> Value {
        guard input.shape.count == 3 || input.shape.count == 4 else {
            throw node.error("convolves a \(input.shape.count)-D tensor; Starling imports 1-D and 2-D convolutions")
        }
        let x = try channelsLast(input, for: node)
        let (channels, spatial) = (x.shape[1], Array(x.shape[2...]))
        let groups = node.int("group") ?? 1
        let outChannels = w.shape.first ?? 0
        guard w.shape.count == x.shape.count, (1...Swift.max(channels, 1)).contains(groups), channels % groups == 0,
            outChannels % groups == 0,
            w.shape[1] == channels / groups
        else { throw node.error(.shapeMismatch, "weight \(w.shape) does not fit input \(x.shape) with \(groups) group(s)") }
        let window = try window(of: node, spatial: spatial, kernel: Array(w.shape[2...]))
        let w4 = w.shape.count == 3 ? w.reshaped([outChannels, w.shape[1], 1, w.shape[2]]) : w
        let (kh, kw) = (w4.shape[2], w4.shape[3])
        let op: Op
        let ours: ConstantTensor
        let axis: Int
        if groups == channels && groups > 1 {
            op = .depthwiseConv2d(window: window, multiplier: outChannels / channels)
            ours = w4.permuted([2, 3, 0, 1]).reshaped([kh, kw, outChannels])
            axis = 2
        } else {
            op = .conv2d(window: window, groups: groups)
            ours = w4.permuted([0, 2, 3, 1])
            axis = 0
        }
        let weightInit = addInitializer(weightName, ours.tensor)
        let quantized = try quantizedWeight(ours, outputAxis: axis, name: weightName)
        if let quantized { weights[weightInit] = quantized }
        var inputs = [x.name, weightInit]
        if let bias {
            guard bias.count == outChannels else {
                throw node.error(.shapeMismatch, "bias \(bias.shape) does not match \(outChannels) output channels")
            }
            inputs.append(
                try addDenseBias(bias, count: outChannels, beta: 1, input: x, weightScales: quantized?.scales, base: biasName))
        }
        let (oh, ow) = window.outputSize(height: spatial.count == 2 ? spatial[0] : 1, width: spatial.last!)
        guard oh > 0, ow > 0 else { throw node.error(.shapeMismatch, "window is larger than the padded input \(x.shape)") }
        let shape = spatial.count == 2 ? [x.shape[0], outChannels, oh, ow] : [x.shape[0], outChannels, ow]
        try checkSize(shape, node)
        return Value(name: emit(op, inputs, for: node), shape: shape, layout: .channelsLast)
    }

    /// The bound (exclusive) on every kernel size, stride, dilation and pad the importer accepts.
    static let maxWindowSize = 1 << 20

    /// The Starling window of a Conv or pooling node over `spatial` (ONNX [H, W] or [L]) sizes.
    func window(of node: Onnx_NodeProto, spatial: [Int], kernel: [Int]) throws(ModelError) -> Window2D {
        let rank = spatial.count
        if let declared = node.ints("kernel_shape"), declared != kernel {
            throw node.error(.shapeMismatch, "kernel_shape \(declared) differs from the weight's \(kernel)")
        }
        let strides = node.ints("strides") ?? [Int](repeating: 1, count: rank)
        let dilations = node.ints("dilations") ?? [Int](repeating: 1, count: rank)
        var pads = node.ints("pads") ?? [Int](repeating: 0, count: 2 * rank)
        // Attributes arrive as Int64s clamped to Int; the cap keeps all window arithmetic (here, in
        // Core's output sizes and in the int8 kernels' 32-bit geometry) far from overflow.
        let sane = Self.maxWindowSize
        guard kernel.count == rank, strides.count == rank, dilations.count == rank, pads.count == 2 * rank,
            (kernel + strides + dilations).allSatisfy({ (1..<sane).contains($0) }), pads.allSatisfy({ (0..<sane).contains($0) })
        else {
            throw node.error(
                .invalidGraph,
                "has malformed kernel \(kernel), strides \(strides), dilations \(dilations) or pads \(pads) for a \(rank)-D input "
                    + "(each must be at least 1, pads at least 0, and all below \(sane))")
        }
        switch node.string("auto_pad") ?? "NOTSET" {
        case "NOTSET", "": break
        case "VALID": pads = [Int](repeating: 0, count: 2 * rank)
        case let mode where mode == "SAME_UPPER" || mode == "SAME_LOWER":
            for i in 0..<rank {
                let out = (spatial[i] + strides[i] - 1) / strides[i]
                let total = max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - spatial[i])
                let small = total / 2
                pads[i] = mode == "SAME_UPPER" ? small : total - small
                pads[i + rank] = total - pads[i]
            }
        case let mode:
            throw node.error("has auto_pad '\(mode)', which Starling does not know")
        }
        if rank == 2 {
            return Window2D(kernel: kernel, stride: strides, dilation: dilations, padding: [pads[0], pads[1], pads[2], pads[3]])
        }
        return Window2D(
            kernel: [1, kernel[0]], stride: [1, strides[0]], dilation: [1, dilations[0]], padding: [0, pads[0], 0, pads[1]])
    }

    /// `x` stored channels-last, reshaping it when its NCHW order already matches (one channel, or 1×1).
    mutating func channelsLast(_ x: Value, for node: Onnx_NodeProto) throws(ModelError) -> Value {
        if x.layout == .channelsLast { return x }
        guard x.layout == .plain, x.shape.count == 3 || x.shape.count == 4 else {
            throw node.error("needs an image tensor but reads \(x.shape) in a flattened layout")
        }
        let (channels, positions) = x.channelsAndPositions
        guard channels == 1 || positions == 1 else {
            throw node.error(
                "reads \(x.shape) in NCHW order, which Starling cannot transpose at run time; feed convolutions from a "
                    + "graph input or from other convolutions")
        }
        var result = x
        result.layout = .channelsLast
        let target = result.ourShape
        result.name = emit(
            .reshape(shape: [x.batched ? 0 : target[0]] + target.dropFirst()), [x.name], for: node, suffix: "/nhwc")
        return result
    }

    // MARK: - Pooling

    mutating func importPool(_ node: Onnx_NodeProto) throws(ModelError) {
        try requireFirstOutputOnly(node)
        let input = try value(node.input[0], of: node)
        let isMax = node.opType == "MaxPool"
        guard isMax || !input.isInteger else { throw node.error("reads a quantized (integer) tensor; dequantize it first") }
        guard input.shape.count == 3 || input.shape.count == 4 else {
            throw node.error("pools a \(input.shape.count)-D tensor; Starling imports 1-D and 2-D pooling")
        }
        let x = try channelsLast(input, for: node)
        let spatial = Array(x.shape[2...])
        guard let kernel = node.ints("kernel_shape") else { throw node.error(.invalidGraph, "has no kernel_shape") }
        var window = try window(of: node, spatial: spatial, kernel: kernel)
        let includePad = (node.int("count_include_pad") ?? 0) != 0
        if node.int("ceil_mode") ?? 0 != 0 {
            try applyCeilMode(&window, height: spatial.count == 2 ? spatial[0] : 1, width: spatial.last!, node: node) {
                isMax || !includePad
            }
        }
        let (oh, ow) = window.outputSize(height: spatial.count == 2 ? spatial[0] : 1, width: spatial.last!)
        guard oh > 0, ow > 0 else { throw node.error(.shapeMismatch, "window is larger than the padded input \(x.shape)") }
        let op: Op = isMax ? .maxPool(window: window) : .avgPool(window: window, countIncludePad: includePad)
        var y = x
        y.name = emit(op, [x.name], for: node)
        y.shape = spatial.count == 2 ? [x.shape[0], x.shape[1], oh, ow] : [x.shape[0], x.shape[1], ow]
        try checkSize(y.shape, node)
        if !isMax {
            y.quant = nil
        } else if x.isInteger, let q = x.quant {
            activations[y.name] = q
        }
        values[node.output[0]] = y
    }

    /// Turns ceil-mode output sizes into extra end padding (padded taps never win a max and are not
    /// counted by an average that excludes padding).
    private func applyCeilMode(
        _ window: inout Window2D, height: Int, width: Int, node: Onnx_NodeProto, padIsNeutral: () -> Bool
    ) throws(ModelError) {
        for (axis, size) in [(0, height), (1, width)] {
            let effective = window.dilation[axis] * (window.kernel[axis] - 1) + 1
            let span = size + window.padding[axis] + window.padding[axis + 2] - effective
            guard span >= 0 else { continue }
            var ceilOut = (span + window.stride[axis] - 1) / window.stride[axis] + 1
            // A window may not start inside the end padding (ONNX and PyTorch drop it).
            if (ceilOut - 1) * window.stride[axis] >= size + window.padding[axis] { ceilOut -= 1 }
            let floorOut = span / window.stride[axis] + 1
            guard ceilOut > floorOut else { continue }
            guard padIsNeutral() else {
                throw node.error("uses ceil_mode with count_include_pad, which Starling cannot express")
            }
            window.padding[axis + 2] += (ceilOut - 1) * window.stride[axis] + effective - (span + effective)
        }
    }

    mutating func importGlobalAveragePool(_ node: Onnx_NodeProto) throws(ModelError) {
        let input = try value(node.input[0], of: node)
        guard !input.isInteger, input.shape.count == 3 || input.shape.count == 4 else {
            throw node.error("needs a float 1-D or 2-D image tensor, got \(input.shape)")
        }
        let x = try channelsLast(input, for: node)
        let pooled = emit(.globalAvgPool, [x.name], for: node, suffix: "/pool")
        let channels = x.shape[1]
        var y = Value(
            name: "", shape: [x.shape[0], channels] + [Int](repeating: 1, count: x.shape.count - 2), layout: .channelsLast)
        y.nonNegative = x.nonNegative
        y.name = emit(.reshape(shape: [x.batched ? 0 : x.shape[0], 1, 1, channels]), [pooled], for: node)
        values[node.output[0]] = y
    }

    // MARK: - Batch normalization

    mutating func importBatchNorm(_ node: Onnx_NodeProto) throws(ModelError) {
        try requireFirstOutputOnly(node)
        if node.int("training_mode") ?? 0 != 0 { throw node.error("runs in training mode; export the model for inference") }
        let input = try value(node.input[0], of: node)
        guard !input.isInteger, input.shape.count >= 2, input.shape.count <= 4 else {
            throw node.error("normalizes a \(input.shape.count)-D tensor; Starling imports 2-D, 3-D and 4-D batch norm")
        }
        let x = input.shape.count == 2 ? input : try channelsLast(input, for: node)
        guard x.layout == .plain || x.layout == .channelsLast else {
            throw node.error("normalizes a flattened NCHW tensor, whose features Starling stores in NHWC order")
        }
        let channels = x.shape[1]
        var inputs = [x.name]
        for (i, role) in ["scale", "bias", "mean", "var"].enumerated() {
            guard let c = try constantInput(i + 1, of: node, role), c.count == channels else {
                throw node.error(.shapeMismatch, "needs a \(role) of \(channels) values, one per channel")
            }
            inputs.append(
                addInitializer(
                    constantName(node.input[i + 1]), Tensor(shape: [channels], scalars: c.tensor.scalars), frozen: i >= 2))
        }
        let op = Op.batchNorm(epsilon: node.float("epsilon") ?? 1e-5, momentum: node.float("momentum") ?? 0.9)
        values[node.output[0]] = Value(name: emit(op, inputs, for: node), shape: x.shape, layout: x.layout)
    }
}
