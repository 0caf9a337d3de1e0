import Foundation

/// Trains a model from labelled rows end to end: fits the feature pipeline on the training rows,
/// builds the architecture, trains, evaluates on the test rows, and returns a model with its
/// metadata. `starling model train` and the hub's training jobs both run this.
public struct SupervisedTraining: Sendable {
    /// What to train.
    public struct Settings: Sendable {
        /// The model's name (metadata).
        public var name: String
        /// `classification` or `regression`.
        public var task: String
        /// The architecture.
        public var architecture: Architecture
        /// Feature transforms fitted on the training rows.
        public var features: FeatureRecipe
        /// Epochs, batch size, optimizer, loss (set from `task`), seed.
        public var config: TrainingConfig
        /// Text-token settings, when the recipe has text columns.
        public var textBuckets: Int
        /// The width of the text embedding.
        public var embeddingDimension: Int

        /// Settings; the loss follows `task`.
        public init(
            name: String, task: String = "classification", architecture: Architecture, features: FeatureRecipe,
            config: TrainingConfig, textBuckets: Int = 4096, embeddingDimension: Int = 16
        ) {
            self.name = name
            self.task = task
            self.architecture = architecture
            self.features = features
            self.config = config
            self.config.loss = task == "classification" ? .softmaxCrossEntropy : .meanSquaredError
            self.textBuckets = textBuckets
            self.embeddingDimension = embeddingDimension
        }
    }

    /// What came out.
    public struct Result: Sendable {
        /// The trained float model, with its pipeline and metadata.
        public var model: Model
        /// One report per epoch.
        public var reports: [EpochReport]
        /// Loss and accuracy on the test rows, if any.
        public var test: EvaluationResult?
        /// Wall-clock training time.
        public var seconds: Double
    }

    /// The settings.
    public let settings: Settings

    /// A training run.
    public init(_ settings: Settings) {
        self.settings = settings
    }

    /// Trains on `train`, evaluates on `test`; `progress` sees every epoch.
    public func run(
        train: LabeledData, test: LabeledData?, labelColumn: String, progress: (EpochReport) -> Void = { _ in }
    ) throws -> Result {
        let pipeline = try settings.features.fit(train.features)
        let shapes = Dictionary(uniqueKeysWithValues: pipeline.outputShapes.map { ($0.name, $0.shape) })
        let tokens = shapes[ModelBuilder.tokensName].map {
            ModelBuilder.TokenInput(buckets: settings.textBuckets, length: $0[0], dimension: settings.embeddingDimension)
        }
        let classifier = settings.task == "classification"
        let encoder = ClassEncoder(fitting: train.labels)
        func targets(_ data: LabeledData) throws -> Targets {
            classifier ? .classes(try encoder.encode(data.labels)) : .values(try data.numericTargets())
        }
        let x = try pipeline.transform(train.features)
        let y = try targets(train)
        let validation = try test.map { (feeds: try pipeline.transform($0.features), targets: try targets($0)) }
        var graph = try ModelBuilder.build(
            settings.architecture, inputShape: shapes[ModelBuilder.inputName] ?? [],
            outputs: classifier ? encoder.classes.count : 1, classifier: classifier, seed: settings.config.seed,
            tokens: tokens)
        let started = Date()
        let reports = try Trainer(config: settings.config).fit(
            &graph, feeds: x, targets: y, validation: validation, progress: progress)
        let seconds = Date().timeIntervalSince(started)
        let testResult = try validation.map {
            try Evaluator(graph: graph, loss: settings.config.loss).evaluate($0.feeds, $0.targets)
        }
        let metadata = ModelMetadata(
            name: settings.name, task: settings.task, classes: classifier ? encoder.classes : nil, labelColumn: labelColumn,
            architecture: settings.architecture.description, source: "train",
            createdAt: ISO8601DateFormatter().string(from: Date()),
            training: TrainingSummary(
                config: settings.config, samples: y.count, epochs: reports, test: testResult, dataDigest: nil))
        return Result(
            model: Model(metadata: metadata, features: pipeline, graph: graph), reports: reports, test: testResult,
            seconds: seconds)
    }
}
