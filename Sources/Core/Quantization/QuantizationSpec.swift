import CKernels

/// Affine uint8 quantization of one activation tensor: real = scale · (q − zeroPoint).
public struct ActivationQuant: Codable, Sendable, Equatable, Hashable {
    /// Real value of one quantization step.
    public var scale: Float
    /// The uint8 code of real zero, 0...255.
    public var zeroPoint: Int32

    /// Parameters covering [low, high] (widened to include 0, as quantized zero must be exact).
    public static func covering(_ low: Float, _ high: Float) -> ActivationQuant {
        let lo = min(low, 0)
        let hi = max(high, 0)
        guard hi - lo > 1e-12, (hi - lo).isFinite else { return ActivationQuant(scale: 1, zeroPoint: 0) }
        let scale = (hi - lo) / 255
        let zero = (-lo / scale).rounded(.toNearestOrEven)
        return ActivationQuant(scale: scale, zeroPoint: Int32(min(max(zero, 0), 255)))
    }

    /// An activation quantization with `scale` and `zeroPoint`.
    public init(scale: Float, zeroPoint: Int32) {
        self.scale = scale
        self.zeroPoint = zeroPoint
    }

    /// The uint8 code of `x` (round half to even, saturating; NaN gives the zero point), as
    /// the quantize kernel computes it.
    public func quantize(_ x: Float) -> UInt8 {
        var x = x
        var q: UInt8 = 0
        sk_quantize_u8(1, &x, scale, zeroPoint, &q)
        return q
    }

    /// True when the scale is positive and finite and the zero point a uint8 code.
    public var isValid: Bool { scale > 0 && scale.isFinite && (0...255).contains(zeroPoint) }

    /// The real value of code `q`.
    public func dequantize(_ q: UInt8) -> Float {
        Float(Int32(q) - zeroPoint) * scale
    }
}

/// An int8 weight tensor, symmetric, with one scale per slice along `axis`.
public struct QuantizedWeight: Sendable, Equatable {
    /// Shape of the weight.
    public var shape: [Int]
    /// int8 codes in row-major order.
    public var values: [Int8]
    /// One scale per index of `axis` (one entry for per-tensor).
    public var scales: [Float]
    /// The channel axis the scales run along.
    public var axis: Int

    /// A quantized weight; `scales` has shape[axis] entries (or one).
    public init(shape: [Int], values: [Int8], scales: [Float], axis: Int) {
        self.shape = shape
        self.values = values
        self.scales = scales
        self.axis = axis
    }

    /// One scale per channel of `axis` (a per-tensor scale repeated).
    public var channelScales: [Float] {
        scales.count == 1 ? [Float](repeating: scales[0], count: shape.isEmpty ? 1 : shape[axis]) : scales
    }

    /// Scale of element `i` of the flattened tensor.
    func scale(ofElement i: Int) -> Float {
        if scales.count == 1 { return scales[0] }
        let inner = shape[(axis + 1)...].reduce(1, *)
        return scales[(i / inner) % shape[axis]]
    }

    /// The real-valued tensor these codes stand for: element i is `Float(values[i])` times
    /// the scale of its channel.
    public func dequantized() -> Tensor {
        let count = values.count
        // Elements come in runs of `inner` that share one scale; the runs cycle through the channels.
        let perTensor = scales.count == 1 || shape.isEmpty
        let channels = perTensor ? 1 : shape[axis]
        let inner = perTensor ? max(count, 1) : max(shape[(axis + 1)...].reduce(1, *), 1)
        let scalars = [Float](unsafeUninitializedCapacity: count) { out, initialized in
            values.withUnsafeBufferPointer { codes in
                scales.withUnsafeBufferPointer { scales in
                    var start = 0
                    var channel = 0
                    while start < count {
                        let scale = scales[channel]
                        for i in start..<min(start + inner, count) { out[i] = Float(codes[i]) * scale }
                        start += inner
                        channel = channel + 1 == channels ? 0 : channel + 1
                    }
                }
            }
            initialized = count
        }
        return Tensor(shape: shape, scalars: scalars)
    }

    /// Symmetric per-channel quantization of `tensor` along `axis` to [−127, 127].
    public static func quantizing(_ tensor: Tensor, axis: Int) -> QuantizedWeight {
        let channels = tensor.shape[axis]
        let inner = tensor.shape[(axis + 1)...].reduce(1, *)
        var maxAbs = [Float](repeating: 0, count: channels)
        for (i, v) in tensor.scalars.enumerated() {
            let c = (i / inner) % channels
            maxAbs[c] = max(maxAbs[c], abs(v))
        }
        let scales = maxAbs.map { $0 > 0 ? $0 / 127 : 1 }
        var values = [Int8](repeating: 0, count: tensor.count)
        for (i, v) in tensor.scalars.enumerated() {
            let q = (v / scales[(i / inner) % channels]).rounded(.toNearestOrEven)
            values[i] = Int8(min(max(q, -127), 127))
        }
        return QuantizedWeight(shape: tensor.shape, values: values, scales: scales, axis: axis)
    }
}

/// An int32 bias whose element n stands for bias[n] · scales[n] (scale = input · weight scale).
public struct QuantizedBias: Sendable, Equatable {
    /// int32 codes.
    public var values: [Int32]
    /// One scale per element.
    public var scales: [Float]

    /// A quantized bias.
    public init(values: [Int32], scales: [Float]) {
        self.values = values
        self.scales = scales
    }
}

/// How a model's tensors are quantized.
public struct QuantizationSpec: Sendable, Equatable {
    /// Checks every parameter against `graph` (they come from files: nothing here may trap later).
    public func validate(graph: Graph) throws(ModelError) {
        for (name, q) in activations where !q.isValid {
            throw ModelError(.invalidGraph, "activation '\(name)' has an invalid scale \(q.scale) or zero point \(q.zeroPoint)")
        }
        for node in graph.nodes where node.inputs.count > 1 {
            guard let weight = weights[node.inputs[1]] else { continue }
            let axis: Int
            switch node.op {
            case .dense, .conv2d, .embeddingBag: axis = 0
            case .depthwiseConv2d: axis = 2
            default: continue
            }
            let fail = { (why: String) in ModelError(.invalidGraph, "quantized weight '\(node.inputs[1])' of node '\(node.name)' \(why)") }
            guard weight.axis == axis, axis < weight.shape.count else { throw fail("must have its scales along axis \(axis)") }
            guard weight.values.count == weight.shape.reduce(1, *), weight.shape[axis] > 0 else { throw fail("has the wrong size") }
            guard weight.scales.count == 1 || weight.scales.count == weight.shape[axis] else {
                throw fail("needs 1 or \(weight.shape[axis]) scales, has \(weight.scales.count)")
            }
            guard weight.scales.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw fail("has a scale that is not positive and finite") }
            if node.inputs.count > 2, let bias = biases[node.inputs[2]] {
                let channels = weight.shape[axis]
                guard bias.values.count == channels, bias.scales.count == channels, bias.scales.allSatisfy({ $0 > 0 && $0.isFinite }) else {
                    throw ModelError(.invalidGraph, "quantized bias '\(node.inputs[2])' needs \(channels) values with positive scales")
                }
            }
        }
        if let unknown = enforced.first(where: { activations[$0] == nil }) {
            throw ModelError(.invalidGraph, "value '\(unknown)' is marked as quantized but has no parameters")
        }
    }

    /// Static: activation ranges fixed by calibration; dynamic: measured per batch at run time.
    public enum Mode: String, Codable, Sendable {
        case `static`
        case dynamic
    }

    /// How activation ranges were chosen.
    public struct Calibration: Codable, Sendable, Equatable {
        /// `minmax` or `percentile`.
        public var method: String
        /// Percentile used by the percentile method.
        public var percentile: Float?
        /// Samples seen.
        public var samples: Int
    }

    /// Static or dynamic.
    public var mode: Mode
    /// Quantization of activations by value name (static mode).
    public var activations: [String: ActivationQuant]
    /// int8 weights by initializer name.
    public var weights: [String: QuantizedWeight]
    /// int32 biases by initializer name.
    public var biases: [String: QuantizedBias]
    /// Provenance of the activation ranges.
    public var calibration: Calibration?
    /// Values whose rounding to uint8 is part of the model's definition (imported QDQ graphs):
    /// runtimes round them through their quantized form even where only float readers follow.
    /// Other values with parameters may stay in float where that is more accurate.
    public var enforced: Set<String>

    /// A spec; empty maps mean "nothing quantized".
    public init(
        mode: Mode, activations: [String: ActivationQuant] = [:], weights: [String: QuantizedWeight] = [:],
        biases: [String: QuantizedBias] = [:], calibration: Calibration? = nil, enforced: Set<String> = []
    ) {
        self.mode = mode
        self.activations = activations
        self.weights = weights
        self.biases = biases
        self.calibration = calibration
        self.enforced = enforced
    }
}
