/// Descriptive data that travels with a model.
public struct ModelMetadata: Codable, Sendable, Equatable {
    /// Model name (e.g. "digits").
    public var name: String
    /// `classification` or `regression`.
    public var task: String
    /// Class names by output index, for classifiers.
    public var classes: [String]?
    /// The label column the model was trained on.
    public var labelColumn: String?
    /// The architecture string it was built from, if any.
    public var architecture: String?
    /// Where it came from: "train", "onnx:<file>", "quantize", ...
    public var source: String?
    /// Creation time, ISO 8601.
    public var createdAt: String?
    /// Training settings and final metrics, if trained here.
    public var training: TrainingSummary?
    /// Free-form string attributes.
    public var extra: [String: String]

    /// Metadata for a model called `name`.
    public init(
        name: String, task: String = "classification", classes: [String]? = nil, labelColumn: String? = nil,
        architecture: String? = nil, source: String? = nil, createdAt: String? = nil, training: TrainingSummary? = nil,
        extra: [String: String] = [:]
    ) {
        self.name = name
        self.task = task
        self.classes = classes
        self.labelColumn = labelColumn
        self.architecture = architecture
        self.source = source
        self.createdAt = createdAt
        self.training = training
        self.extra = extra
    }
}

/// How a model was trained, for lineage.
public struct TrainingSummary: Codable, Sendable, Equatable {
    /// The configuration used.
    public var config: TrainingConfig
    /// Training rows.
    public var samples: Int
    /// Per-epoch results.
    public var epochs: [EpochReport]
    /// Test metrics after training, if a test set was given.
    public var test: EvaluationResult?
    /// SHA-256 or other digest of the training data, if known.
    public var dataDigest: String?

    /// A summary of a finished training run.
    public init(config: TrainingConfig, samples: Int, epochs: [EpochReport], test: EvaluationResult?, dataDigest: String?) {
        self.config = config
        self.samples = samples
        self.epochs = epochs
        self.test = test
        self.dataDigest = dataDigest
    }
}

/// A complete model: graph and weights, the feature pipeline, quantization, and metadata.
public struct Model: Sendable, Equatable {
    /// Descriptive data.
    public var metadata: ModelMetadata
    /// Raw-column transforms; nil when callers feed tensors directly.
    public var features: FeaturePipeline?
    /// The computation, with float weights (dequantized when only int8 weights were stored).
    public var graph: Graph
    /// int8 quantization, if quantized.
    public var quantization: QuantizationSpec?

    /// A model from its parts.
    public init(metadata: ModelMetadata, features: FeaturePipeline? = nil, graph: Graph, quantization: QuantizationSpec? = nil) {
        self.metadata = metadata
        self.features = features
        self.graph = graph
        self.quantization = quantization
    }

    /// Checks graph, pipeline and quantization agree; the error names the first problem.
    public func validate() throws(ModelError) {
        try graph.validate()
        if let features {
            try features.validate()
            let produced = Dictionary(features.outputShapes.map { ($0.name, $0.shape) }, uniquingKeysWith: { a, _ in a })
            for input in graph.inputs {
                guard let shape = produced[input.name] else {
                    throw ModelError(.invalidGraph, "the feature pipeline does not produce model input '\(input.name)'")
                }
                guard Array(input.shape.dropFirst()) == shape else {
                    throw ModelError(
                        .shapeMismatch, "the feature pipeline makes \(shape) for '\(input.name)', the graph expects \(input.shape)")
                }
            }
        }
        if let quantization {
            for (name, weight) in quantization.weights {
                guard let float = graph.initializers[name], float.shape == weight.shape else {
                    throw ModelError(.invalidGraph, "quantized weight '\(name)' does not match a graph initializer")
                }
            }
            try quantization.validate(graph: graph)
        }
        if let classes = metadata.classes, Set(classes).count != classes.count {
            throw ModelError(.invalidGraph, "the model's class names are not unique")
        }
    }
}
