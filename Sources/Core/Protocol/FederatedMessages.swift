/// A federated-learning task: start from the round's global parameters, train on local labelled
/// data (`kind` "fit") or only evaluate them (`kind` "evaluate"), and answer with an update.
/// Sent to one device on `devices/{id}/fl/task` inside an `FLTaskFrame`, which carries the
/// global parameters the task pins by size and SHA-256.
public struct FLTask: ControlMessage {
    /// "fl-task".
    public static let schema = "fl-task"

    /// The message id; the update names it in `taskId`.
    public var id: String
    /// When the hub issued it, ms since the epoch.
    public var time: Int64
    /// The federated round.
    public var roundId: String
    /// Which iteration of the round this is (1-based); an update must name the same one.
    public var roundNumber: Int
    /// `fit` (train and send a delta) or `evaluate` (report loss and accuracy only).
    public var kind: String
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
    /// `ParameterLayout.digest` of the model's trainable parameters.
    public var layoutDigest: String
    /// How the frame's payload (the global parameters) is encoded (`float32`, `float16`, `int8`).
    public var globalEncoding: String
    /// The payload's size in bytes.
    public var globalSize: Int
    /// The payload's SHA-256, lowercase hex.
    public var globalSha256: String

    /// A task.
    public init(
        id: String, time: Int64, roundId: String, roundNumber: Int = 1, kind: String = "fit", modelName: ModelName,
        baseVersion: String, basePackageId: String? = nil,
        deadline: Int64, localEpochs: Int, batchSize: Int, learningRate: Double, optimizer: String = "sgd",
        proximalMu: Double? = nil, clipNorm: Double? = nil, encoding: String = "float32", topKFraction: Double? = nil,
        minExamples: Int = 1, maxTrainingSeconds: Int? = nil, layoutDigest: String, globalEncoding: String = "float32",
        globalSize: Int, globalSha256: String
    ) {
        self.id = id
        self.time = time
        self.roundId = roundId
        self.roundNumber = roundNumber
        self.kind = kind
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
        self.layoutDigest = layoutDigest
        self.globalEncoding = globalEncoding
        self.globalSize = globalSize
        self.globalSha256 = globalSha256
    }

    /// Checks ids, the deadline, and that the hyperparameters are positive and finite.
    public func validate() throws(ProtocolError) {
        let s = Self.schema
        let positive = Double.leastNonzeroMagnitude...Double.greatestFiniteMagnitude
        try FieldCheck.identifier(roundId, s, "roundId")
        try FieldCheck.range(roundNumber, 1...1_000_000, s, "roundNumber")
        guard kind == "fit" || kind == "evaluate" else { throw FieldCheck.fail(s, "kind", "is not fit or evaluate") }
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
        try FieldCheck.digest(layoutDigest, s, "layoutDigest")
        try FieldCheck.identifier(globalEncoding, s, "globalEncoding")
        try FieldCheck.range(globalSize, 0...FLUpdateFrame.maxPayloadBytes, s, "globalSize")
        try FieldCheck.digest(globalSha256, s, "globalSha256")
    }
}

/// The header of a federated-learning update, signed with the device key. It travels inside an
/// `FLUpdateFrame` on `devices/{id}/fl/update`, ahead of the encoded update bytes it pins by
/// size and SHA-256. Signed schemas carry integers only, so losses travel in millionths.
///
/// It also reports federated evaluation: the loss and accuracy of the global parameters the
/// task carried, on the device's labelled data, before training (`eval*`). An `evaluate` task is
/// answered with an empty payload and only these.
public struct FLUpdateHeader: SignedControlMessage {
    /// "fl-update".
    public static let schema = "fl-update"

    /// The message id (one per update; a resent update keeps it).
    public var id: String
    /// When the update was finished, ms since the epoch.
    public var time: Int64
    /// The federated round.
    public var roundId: String
    /// The iteration of the round (`FLTask.roundNumber`).
    public var roundNumber: Int
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
    /// `ParameterLayout.digest` of the parameters the payload updates.
    public var layoutDigest: String
    /// Examples the global parameters were evaluated on (0: no evaluation).
    public var evalExamples: Int
    /// Of those, how many the global parameters classified correctly (classification only).
    public var evalCorrect: Int?
    /// The mean loss of the global parameters on them, in millionths.
    public var evalLossMicros: Int64?
    /// The mean training loss of the last local epoch, in millionths.
    public var trainLossMicros: Int64?
    /// Wall time spent training, in milliseconds.
    public var trainMillis: Int64

    /// An update header.
    public init(
        id: String, time: Int64, roundId: String, roundNumber: Int = 1, taskId: String, modelName: ModelName,
        baseVersion: String, examples: Int, epochs: Int, encoding: String, payloadSize: Int, payloadSha256: String,
        keyId: String, layoutDigest: String, evalExamples: Int = 0, evalCorrect: Int? = nil, evalLossMicros: Int64? = nil,
        trainLossMicros: Int64? = nil, trainMillis: Int64 = 0
    ) {
        self.id = id
        self.time = time
        self.roundId = roundId
        self.roundNumber = roundNumber
        self.taskId = taskId
        self.modelName = modelName
        self.baseVersion = baseVersion
        self.examples = examples
        self.epochs = epochs
        self.encoding = encoding
        self.payloadSize = payloadSize
        self.payloadSha256 = payloadSha256
        self.keyId = keyId
        self.layoutDigest = layoutDigest
        self.evalExamples = evalExamples
        self.evalCorrect = evalCorrect
        self.evalLossMicros = evalLossMicros
        self.trainLossMicros = trainLossMicros
        self.trainMillis = trainMillis
    }

    /// Checks ids, counts and the payload digest.
    public func validate() throws(ProtocolError) {
        let s = Self.schema
        try FieldCheck.identifier(roundId, s, "roundId")
        try FieldCheck.range(roundNumber, 1...1_000_000, s, "roundNumber")
        try FieldCheck.identifier(taskId, s, "taskId")
        try FieldCheck.text(baseVersion, s, "baseVersion", maxBytes: 64)
        try FieldCheck.range(examples, 0...Int.max, s, "examples")
        try FieldCheck.range(epochs, 0...Int.max, s, "epochs")
        try FieldCheck.identifier(encoding, s, "encoding")
        try FieldCheck.range(payloadSize, 0...FLUpdateFrame.maxPayloadBytes, s, "payloadSize")
        try FieldCheck.digest(payloadSha256, s, "payloadSha256")
        try FieldCheck.identifier(keyId, s, "keyId")
        try FieldCheck.digest(layoutDigest, s, "layoutDigest")
        try FieldCheck.range(evalExamples, 0...Int.max, s, "evalExamples")
        try FieldCheck.range(evalCorrect, 0...evalExamples, s, "evalCorrect")
        try FieldCheck.range(trainMillis, 0...Int64.max, s, "trainMillis")
        guard examples > 0 || evalExamples > 0 else {
            throw FieldCheck.fail(s, "examples", "and evalExamples are both 0: the update reports nothing")
        }
    }
}
