/// Turns a float model into an int8 one: weights symmetric per output channel, activations
/// per tensor from calibration (static) or measured per batch at run time (dynamic).
public struct Quantizer: Sendable {
    /// How activation ranges are set.
    public var calibration: CalibrationMethod
    /// Samples per calibration batch.
    public var batchSize = 64

    /// A quantizer using `calibration` for static ranges.
    public init(calibration: CalibrationMethod = .minMax) {
        self.calibration = calibration
    }

    /// Quantizes `model`. With `calibrationFeeds` (model inputs, [samples, ...] each) the result
    /// is static; without, dynamic (only weights are fixed; activations use each batch's range).
    public func quantize(_ model: Model, calibrationFeeds: [String: Tensor]? = nil) throws(ModelError) -> Model {
        let graph = model.graph.foldingBatchNorm()
        try graph.validate()
        var weights: [String: QuantizedWeight] = [:]
        for node in graph.nodes {
            guard node.inputs.count > 1, let w = graph.initializers[node.inputs[1]] else { continue }
            let axis: Int
            switch node.op {
            case .dense, .conv2d, .embeddingBag: axis = 0
            case .depthwiseConv2d: axis = 2
            default: continue
            }
            weights[node.inputs[1]] = QuantizedWeight.quantizing(w, axis: axis)
        }
        guard let feeds = calibrationFeeds else {
            var result = model
            result.graph = graph
            result.quantization = QuantizationSpec(mode: .dynamic, weights: weights)
            return result
        }
        let samples = feeds.values.first?.shape.first ?? 0
        guard samples > 0 else { throw ModelError(.invalidData, "calibration needs at least one sample") }
        var calibrator = Calibrator(graph: graph, method: calibration)
        calibrator.batchSize = batchSize
        let ranges = try calibrator.ranges(feeds, samples: samples)
        var activations: [String: ActivationQuant] = [:]
        for (name, (lo, hi)) in ranges where graph.initializers[name] == nil {
            activations[name] = .covering(lo, hi)
        }
        // Pass-through ops keep their input's parameters so uint8 codes flow unchanged.
        for node in graph.nodes {
            switch node.op {
            case .maxPool, .flatten, .reshape:
                activations[node.output] = activations[node.inputs[0]]
            default: break
            }
        }
        var biases: [String: QuantizedBias] = [:]
        for node in graph.nodes where node.inputs.count > 2 {
            switch node.op {
            case .dense, .conv2d, .depthwiseConv2d: break
            default: continue
            }
            guard let weight = weights[node.inputs[1]], let inQ = activations[node.inputs[0]],
                let bias = graph.initializers[node.inputs[2]]
            else { continue }
            biases[node.inputs[2]] = try Int8Compiler.quantizeBias(bias, inputScale: inQ.scale, weight: weight, name: node.inputs[2])
        }
        let method: String
        var percentile: Float?
        switch calibration {
        case .minMax: method = "minmax"
        case .percentile(let p):
            method = "percentile"
            percentile = p
        }
        var result = model
        result.graph = graph
        result.quantization = QuantizationSpec(
            mode: .static, activations: activations, weights: weights, biases: biases,
            calibration: .init(method: method, percentile: percentile, samples: samples))
        return result
    }
}
