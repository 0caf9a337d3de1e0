import CKernels

/// A heap array with a stable address for the lifetime of its owner (C epilogues keep pointers).
final class PinnedArray<Element>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Element>
    let count: Int

    init(_ values: [Element]) {
        count = values.count
        pointer = .allocate(capacity: max(values.count, 1))
        pointer.initialize(from: values, count: values.count)
    }

    deinit {
        pointer.deinitialize(count: count)
        pointer.deallocate()
    }
}

/// How a quantized layer delivers its output.
enum LayerOutput {
    /// uint8, requantized; `epilogue` points into `bias`/`scale`.
    case u8(ActivationQuant, min: Int32, max: Int32)
    /// float32, dequantized, optionally through ReLU.
    case f32(relu: Bool)
}

/// A dense layer with int8 weights (static or dynamic input quantization).
final class DenseStep: @unchecked Sendable {
    let src: Int
    let dst: Int
    let packed: PackedWeights
    let output: LayerOutput
    /// Static: input quantization; nil for dynamic.
    let inputQuant: ActivationQuant?
    let weightScales: [Float]
    let floatBias: [Float]?
    let bias: PinnedArray<Int32>
    let scale: PinnedArray<Float>
    let requant: sk_requant
    let dequant: sk_dequant
    /// XNNPACK's description of this layer (requantizing static layers only).
    let xnnpack: XNNPACKConvolution.Layer?

    init(
        src: Int, dst: Int, weight: QuantizedWeight, bias qbias: QuantizedBias?, floatBias: [Float]?,
        inputQuant: ActivationQuant?, output: LayerOutput, backend: KernelBackend
    ) {
        let (n, k) = (weight.shape[0], weight.shape[1])
        self.src = src
        self.dst = dst
        self.output = output
        self.inputQuant = inputQuant
        self.floatBias = floatBias
        weightScales = weight.channelScales
        let packed = PackedWeights(weight.values, n: n, k: k, isa: backend.isa)
        self.packed = packed
        let q = qbias?.values ?? [Int32](repeating: 0, count: n)
        bias = PinnedArray(Self.foldZeroPoint(q, zeroPoint: inputQuant?.zeroPoint ?? 0, colsum: packed.colsum))
        (scale, requant, dequant) = Self.epilogues(output, bias: bias, inputScale: inputQuant?.scale ?? 1, weightScales: weightScales)
        if backend == .xnnpack, let inputQuant, case .u8(let out, let lo, let hi) = output {
            xnnpack = XNNPACKConvolution.Layer(
                window: Window2D(kernel: [1, 1]), groups: 1, groupInputChannels: k, groupOutputChannels: n, depthwise: false,
                inputQuant: inputQuant, outputQuant: out, weightScales: weightScales, weights: weight.values, bias: q,
                outMin: lo, outMax: hi)
        } else {
            xnnpack = nil
        }
    }
}

extension DenseStep {
    /// The int32 bias with the input zero point folded in: qbias[n] − zp · Σₖ W[n][k].
    static func foldZeroPoint(_ qbias: [Int32], zeroPoint: Int32, colsum: [Int32]) -> [Int32] {
        zip(qbias, colsum).map { $0 &- zeroPoint &* $1 }
    }

    /// Per-channel scales and the C epilogue for `output`: requantizing scales
    /// (s_in · s_w) / s_out, or dequantizing scales s_in · s_w.
    static func epilogues(
        _ output: LayerOutput, bias: PinnedArray<Int32>, inputScale: Float, weightScales: [Float]
    ) -> (PinnedArray<Float>, sk_requant, sk_dequant) {
        switch output {
        case .u8(let out, let lo, let hi):
            let scale = PinnedArray(weightScales.map { inputScale * $0 / out.scale })
            let ep = sk_requant(bias: bias.pointer, scale: scale.pointer, out_zero_point: out.zeroPoint, out_min: lo, out_max: hi)
            return (scale, ep, sk_dequant())
        case .f32(let relu):
            let scale = PinnedArray(weightScales.map { inputScale * $0 })
            return (scale, sk_requant(), sk_dequant(bias: bias.pointer, scale: scale.pointer, fbias: nil, relu: relu ? 1 : 0))
        }
    }
}

/// A convolution (grouped or depthwise) with int8 weights reading uint8 input.
final class ConvStep: @unchecked Sendable {
    enum Kind {
        /// One packed weight block per group.
        case grouped([PackedWeights])
        /// Depthwise weights [kh][kw][C·multiplier].
        case depthwise(PinnedArray<Int8>, multiplier: Int)
    }

    let src: Int
    let dst: Int
    let kind: Kind
    let window: Window2D
    let groups: Int
    let inputQuant: ActivationQuant
    let output: LayerOutput
    let outChannels: Int
    /// Geometry for one sample (the batch is set per run).
    let geometry: sk_conv_geom
    let bias: PinnedArray<Int32>
    let scale: PinnedArray<Float>
    let requant: sk_requant
    let dequant: sk_dequant
    let xnnpack: XNNPACKConvolution.Layer?

    init(
        src: Int, dst: Int, op: Op, weight: QuantizedWeight, bias qbias: QuantizedBias?, inputShape: [Int], outputShape: [Int],
        inputQuant: ActivationQuant, output: LayerOutput, backend: KernelBackend
    ) {
        self.src = src
        self.dst = dst
        self.inputQuant = inputQuant
        self.output = output
        let inputChannels = inputShape[2]
        let weightScales: [Float]
        var sums: [Int32]
        switch op {
        case .conv2d(let window, let groups):
            self.window = window
            self.groups = groups
            outChannels = weight.shape[0]
            let og = outChannels / groups
            let k = weight.values.count / outChannels
            weightScales = weight.channelScales
            let blocks = (0..<groups).map { g in
                PackedWeights(Array(weight.values[(g * og * k)..<((g + 1) * og * k)]), n: og, k: k, isa: backend.isa)
            }
            sums = blocks.flatMap { $0.colsum }
            kind = .grouped(blocks)
        case .depthwiseConv2d(let window, let multiplier):
            self.window = window
            groups = inputChannels
            outChannels = weight.shape[2]
            weightScales = weight.channelScales
            sums = [Int32](repeating: 0, count: outChannels)
            for (i, v) in weight.values.enumerated() { sums[i % outChannels] += Int32(v) }
            kind = .depthwise(PinnedArray(weight.values), multiplier: multiplier)
        default:
            preconditionFailure("ConvStep needs a convolution, got \(op.kind)")
        }
        geometry = sk_conv_geom(input: [1] + inputShape, window: window, outHeight: outputShape[0], outWidth: outputShape[1])
        let q = qbias?.values ?? [Int32](repeating: 0, count: outChannels)
        bias = PinnedArray(DenseStep.foldZeroPoint(q, zeroPoint: inputQuant.zeroPoint, colsum: sums))
        (scale, requant, dequant) = DenseStep.epilogues(output, bias: bias, inputScale: inputQuant.scale, weightScales: weightScales)
        if backend == .xnnpack, case .u8(let out, let lo, let hi) = output {
            let depthwise: Bool
            let perGroupIn: Int
            if case .depthwise = kind { depthwise = true; perGroupIn = 1 } else { depthwise = false; perGroupIn = inputChannels / groups }
            xnnpack = XNNPACKConvolution.Layer(
                window: window, groups: groups, groupInputChannels: perGroupIn, groupOutputChannels: outChannels / groups,
                depthwise: depthwise, inputQuant: inputQuant, outputQuant: out, weightScales: weightScales,
                weights: weight.values, bias: q, outMin: lo, outMax: hi)
        } else {
            xnnpack = nil
        }
    }
}

/// One instruction of a compiled int8 program. Slots index the workspace buffers.
enum Step {
    case quantize(src: Int, dst: Int, ActivationQuant)
    case dequantize(src: Int, dst: Int, ActivationQuant)
    case dense(DenseStep)
    case conv(ConvStep)
    /// Pooling geometries are for one sample; the batch is set per run.
    case maxPool(src: Int, dst: Int, sk_conv_geom, zeroPoint: UInt8)
    case avgPool(src: Int, dst: Int, sk_conv_geom, countIncludePad: Bool, zin: Int32, k: Float, zout: Int32)
    /// Copies `bytesPerSample` bytes per sample (a graph output that is also an input).
    case copy(src: Int, dst: Int, bytesPerSample: Int)
    case add(a: Int, b: Int, dst: Int, za: Int32, ka: Float, zb: Int32, kb: Float, zout: Int32)
    case reluU8(src: Int, dst: Int, low: UInt8, high: UInt8)
    case softmax(src: Int, dst: Int, width: Int)
    case activation(Op, src: Int, dst: Int)
    /// Any op in float32 through the tensor implementation (rare ops; allocates).
    case generic(GenericStep)
}

/// A node run by the float tensor code, reading float slots and constants.
final class GenericStep: @unchecked Sendable {
    enum Input {
        case slot(Int, sampleShape: [Int])
        case constant(Tensor)
    }

    let node: Node
    let inputs: [Input]
    let dst: Int

    init(node: Node, inputs: [Input], dst: Int) {
        self.node = node
        self.inputs = inputs
        self.dst = dst
    }
}
