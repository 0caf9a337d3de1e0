/// A federated-learning task: train on local feedback from a base model and send an update.
/// Sent to one device on `devices/{id}/fl/task`, or offered to a group on `groups/{g}/fl/task`
/// (retained while the round is open; the hub clears it when the round closes).
public struct FLTask: ControlMessage {
    /// "fl-task".
    public static let schema = "fl-task"

    /// The message id; the update names it in `taskId`.
    public var id: String
    /// When the hub issued it, ms since the epoch.
    public var time: Int64
    /// The federated round.
    public var roundId: String
    /// The model to train.
    public var modelName: ModelName
    /// The model version to start from.
    public var baseVersion: String
    /// The base version's package (`PackageHead.id`), if the device may need to fetch it.
    public var basePackageId: String?
    /// Updates arriving after this time (ms since the epoch) are ignored.
    public var deadline: Int64
    /// Local passes over the training data.
    public var localEpochs: Int
    /// Examples per step.
    public var batchSize: Int
    /// Step size.
    public var learningRate: Double
    /// `sgd` or `adam` (open set).
    public var optimizer: String
    /// FedProx proximal term weight; absent for plain FedAvg-style training.
    public var proximalMu: Double?
    /// L2 norm the update is clipped to before encoding; absent: no clipping.
    public var clipNorm: Double?
    /// How the update is encoded (`float32`, `int8`, `topk`; open set).
    public var encoding: String
    /// The fraction of coordinates kept by `topk` encoding.
    public var topKFraction: Double?
    /// Train only with at least this many labelled examples (else skip the task).
    public var minExamples: Int
    /// The most training time the device may spend, in seconds; absent: the profile's budget.
    public var maxTrainingSeconds: Int?

    /// A task.
    public init(
        id: String, time: Int64, roundId: String, modelName: ModelName, baseVersion: String, basePackageId: String? = nil,
        deadline: Int64, localEpochs: Int, batchSize: Int, learningRate: Double, optimizer: String = "sgd",
        proximalMu: Double? = nil, clipNorm: Double? = nil, encoding: String = "float32", topKFraction: Double? = nil,
        minExamples: Int = 1, maxTrainingSeconds: Int? = nil
    ) {
        self.id = id
        self.time = time
        self.roundId = roundId
        self.modelName = modelName
        self.baseVersion = baseVersion
        self.basePackageId = basePackageId
        self.deadline = deadline
        self.localEpochs = localEpochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.optimizer = optimizer
        self.proximalMu = proximalMu
        self.clipNorm = clipNorm
        self.encoding = encoding
        self.topKFraction = topKFraction
        self.minExamples = minExamples
        self.maxTrainingSeconds = maxTrainingSeconds
    }

    /// Checks ids, the deadline, and that the hyperparameters are positive and finite.
    public func validate() throws(ProtocolError) {
        let s = Self.schema
        let positive = Double.leastNonzeroMagnitude...Double.greatestFiniteMagnitude
        try FieldCheck.identifier(roundId, s, "roundId")
        try FieldCheck.text(baseVersion, s, "baseVersion", maxBytes: 64)
        if let basePackageId { try FieldCheck.digest(basePackageId, s, "basePackageId") }
        guard deadline > time else { throw FieldCheck.fail(s, "deadline", "is not after the issue time") }
        try FieldCheck.range(localEpochs, 1...10_000, s, "localEpochs")
        try FieldCheck.range(batchSize, 1...1_000_000, s, "batchSize")
        try FieldCheck.finite(learningRate, positive, s, "learningRate")
        try FieldCheck.identifier(optimizer, s, "optimizer")
        try FieldCheck.finite(proximalMu, 0...Double.greatestFiniteMagnitude, s, "proximalMu")
        try FieldCheck.finite(clipNorm, positive, s, "clipNorm")
        try FieldCheck.identifier(encoding, s, "encoding")
        try FieldCheck.finite(topKFraction, Double.leastNonzeroMagnitude...1, s, "topKFraction")
        try FieldCheck.range(minExamples, 1...Int.max, s, "minExamples")
        try FieldCheck.range(maxTrainingSeconds, 1...Int.max, s, "maxTrainingSeconds")
    }
}

/// The header of a federated-learning update, signed with the device key. It travels inside an
/// `FLUpdateFrame` on `devices/{id}/fl/update`, ahead of the encoded update bytes it pins by
/// size and SHA-256.
public struct FLUpdateHeader: SignedControlMessage {
    /// "fl-update".
    public static let schema = "fl-update"

    /// The message id (one per update; a resent update keeps it).
    public var id: String
    /// When the update was finished, ms since the epoch.
    public var time: Int64
    /// The federated round.
    public var roundId: String
    /// The task answered (`FLTask.id`).
    public var taskId: String
    /// The model trained.
    public var modelName: ModelName
    /// The version training started from.
    public var baseVersion: String
    /// Training examples used (the weight in FedAvg).
    public var examples: Int
    /// Local epochs actually run.
    public var epochs: Int
    /// How the payload is encoded (`float32`, `int8`, `topk`; as the task asked).
    public var encoding: String
    /// The payload's size in bytes.
    public var payloadSize: Int
    /// The payload's SHA-256, lowercase hex.
    public var payloadSha256: String
    /// The id of the device key that signs it.
    public var keyId: String

    /// An update header.
    public init(
        id: String, time: Int64, roundId: String, taskId: String, modelName: ModelName, baseVersion: String,
        examples: Int, epochs: Int, encoding: String, payloadSize: Int, payloadSha256: String, keyId: String
    ) {
        self.id = id
        self.time = time
        self.roundId = roundId
        self.taskId = taskId
        self.modelName = modelName
        self.baseVersion = baseVersion
        self.examples = examples
        self.epochs = epochs
        self.encoding = encoding
        self.payloadSize = payloadSize
        self.payloadSha256 = payloadSha256
        self.keyId = keyId
    }

    /// Checks ids, counts and the payload digest.
    public func validate() throws(ProtocolError) {
        let s = Self.schema
        try FieldCheck.identifier(roundId, s, "roundId")
        try FieldCheck.identifier(taskId, s, "taskId")
        try FieldCheck.text(baseVersion, s, "baseVersion", maxBytes: 64)
        try FieldCheck.range(examples, 1...Int.max, s, "examples")
        try FieldCheck.range(epochs, 0...Int.max, s, "epochs")
        try FieldCheck.identifier(encoding, s, "encoding")
        try FieldCheck.range(payloadSize, 0...FLUpdateFrame.maxPayloadBytes, s, "payloadSize")
        try FieldCheck.digest(payloadSha256, s, "payloadSha256")
        try FieldCheck.identifier(keyId, s, "keyId")
    }
}
