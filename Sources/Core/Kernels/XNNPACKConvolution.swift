import CXNNPACK

/// A requantizing int8 convolution (or a dense layer as a 1×1 convolution) run by XNNPACK's
/// per-channel (qc8) operator. XNNPACK works on int8 activations, so uint8 buffers are shifted
/// by 128 on the way in and out (exact: the zero points shift with them).
final class XNNPACKConvolution: @unchecked Sendable {
    private var op: xnn_operator_t?
    private let inputChannels: Int
    private let outputChannels: Int
    private var input = AlignedBuffer(byteCount: 64)
    private var output = AlignedBuffer(byteCount: 64)

    /// The geometry and quantization of one layer; nil when XNNPACK refuses it (for example a
    /// requantization scale of 1 or more, which its 2022 snapshot does not support).
    struct Layer {
        var window: Window2D
        var groups: Int
        var groupInputChannels: Int
        var groupOutputChannels: Int
        var depthwise: Bool
        var inputQuant: ActivationQuant
        var outputQuant: ActivationQuant
        var weightScales: [Float]
        var weights: [Int8]
        var bias: [Int32]
        var outMin: Int32
        var outMax: Int32
    }

    init?(_ layer: Layer) {
        guard XNNPACK.isReady else { return nil }
        inputChannels = layer.groups * layer.groupInputChannels
        outputChannels = layer.groups * layer.groupOutputChannels
        var created: xnn_operator_t?
        let w = layer.window
        let status = layer.weights.withUnsafeBufferPointer { weights in
            layer.bias.withUnsafeBufferPointer { bias in
                layer.weightScales.withUnsafeBufferPointer { scales in
                    xnn_create_convolution2d_nhwc_qc8(
                        UInt32(w.padding[0]), UInt32(w.padding[3]), UInt32(w.padding[2]), UInt32(w.padding[1]),
                        UInt32(w.kernel[0]), UInt32(w.kernel[1]), UInt32(w.stride[0]), UInt32(w.stride[1]),
                        UInt32(w.dilation[0]), UInt32(w.dilation[1]), UInt32(layer.groups), layer.groupInputChannels,
                        layer.groupOutputChannels, inputChannels, outputChannels,
                        Int8(layer.inputQuant.zeroPoint - 128), layer.inputQuant.scale, scales.baseAddress, weights.baseAddress,
                        bias.baseAddress, Int8(layer.outputQuant.zeroPoint - 128), layer.outputQuant.scale,
                        Int8(layer.outMin - 128), Int8(layer.outMax - 128),
                        layer.depthwise ? UInt32(XNN_FLAG_DEPTHWISE_CONVOLUTION) : 0, &created)
                }
            }
        }
        guard status == xnn_status_success, let created else { return nil }
        op = created
    }

    deinit {
        if let op { xnn_delete_operator(op) }
    }

    /// Runs the layer on `batch` NHWC images of `height` × `width` (1 × 1 for dense layers).
    func run(
        batch: Int, height: Int, width: Int, outputPositions: Int, input source: UnsafePointer<UInt8>,
        output destination: UnsafeMutablePointer<UInt8>
    ) -> Bool {
        let inCount = batch * height * width * inputChannels
        let outCount = outputPositions * outputChannels
        // XNNPACK may read (and vector-store) up to XNN_EXTRA_BYTES past the ends of its buffers.
        input.reserve(inCount + Int(XNN_EXTRA_BYTES))
        output.reserve(outCount + Int(XNN_EXTRA_BYTES))
        let src = input.pointer.assumingMemoryBound(to: UInt8.self)
        for i in 0..<inCount { src[i] = source[i] ^ 0x80 }
        let status = xnn_setup_convolution2d_nhwc_qc8(
            op, batch, height, width, input.pointer.assumingMemoryBound(to: Int8.self),
            output.pointer.assumingMemoryBound(to: Int8.self), nil)
        guard status == xnn_status_success, xnn_run_operator(op, nil) == xnn_status_success else { return false }
        let out = output.pointer.assumingMemoryBound(to: UInt8.self)
        for i in 0..<outCount { destination[i] = out[i] ^ 0x80 }
        return true
    }
}
