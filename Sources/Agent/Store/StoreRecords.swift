/// One answered prediction, as the serving path hands it to `AgentStore.record(_:)`.
public struct PredictionRecord: Sendable, Equatable {
    /// The id the agent gave the prediction; feedback names it. Unique in the store.
    public var requestID: String
    /// When it was answered, ms since the Unix epoch.
    public var time: Int64
    /// The model that answered.
    public var modelName: String
    /// The model version that answered.
    public var modelVersion: String
    /// The inputs as JSON text (kept or only digested, per `InputLogging`).
    public var inputs: String
    /// The outputs as JSON text.
    public var outputs: String
    /// How long the prediction took, in microseconds.
    public var latencyMicroseconds: Int64

    /// A prediction record.
    public init(
        requestID: String, time: Int64, modelName: String, modelVersion: String, inputs: String, outputs: String,
        latencyMicroseconds: Int64
    ) {
        self.requestID = requestID
        self.time = time
        self.modelName = modelName
        self.modelVersion = modelVersion
        self.inputs = inputs
        self.outputs = outputs
        self.latencyMicroseconds = latencyMicroseconds
    }
}

/// A prediction as stored, with its feedback if any.
public struct StoredPrediction: Sendable, Equatable {
    /// The request id.
    public var requestID: String
    /// When it was answered, ms since the Unix epoch.
    public var time: Int64
    /// The model that answered.
    public var modelName: String
    /// The model version that answered.
    public var modelVersion: String
    /// The inputs as JSON, or nil when only their digest is kept.
    public var inputs: String?
    /// SHA-256 of the inputs' UTF-8 bytes, 64 lowercase hex digits.
    public var inputDigest: String
    /// The outputs as JSON.
    public var outputs: String
    /// How long the prediction took, in microseconds.
    public var latencyMicroseconds: Int64
    /// The label attached to it, if any.
    public var feedback: StoredFeedback?
}

/// A label for a logged prediction, as the feedback route hands it to the store.
public struct FeedbackInput: Sendable, Equatable {
    /// The request id of the prediction it labels.
    public var predictionID: String
    /// The label: a class name, or a number for regression (1 to 256 bytes, no control characters).
    public var label: String
    /// When the label was given, ms since the Unix epoch.
    public var time: Int64

    /// A feedback input.
    public init(predictionID: String, label: String, time: Int64) {
        self.predictionID = predictionID
        self.label = label
        self.time = time
    }
}

/// What attaching one label did.
public enum FeedbackResult: String, Sendable, Equatable {
    /// The label is stored durably and will be sent.
    case attached
    /// No prediction with that id is in the store (never recorded, dropped by the overflow
    /// policy, or pruned); nothing was stored.
    case unknownPrediction
    /// The prediction already has a label; the first one stays.
    case alreadyLabelled
}

/// A stored label and how far it got towards the hub.
public struct StoredFeedback: Sendable, Equatable {
    /// The label.
    public var label: String
    /// When it was given, ms since the Unix epoch.
    public var time: Int64
    /// The outbox message (a `FeedbackBatch`) it was sealed into, if any.
    public var batchID: String?
    /// Whether the broker acknowledged that message.
    public var sent: Bool
}

/// A prediction with its label and kept inputs: one example for local (federated) training.
public struct LabelledExample: Sendable, Equatable {
    /// The request id.
    public var requestID: String
    /// The model version that answered.
    public var modelVersion: String
    /// The inputs as JSON.
    public var inputs: String
    /// The label.
    public var label: String
    /// When the label was given.
    public var time: Int64
}

/// Counters of the store since it was opened.
public struct StoreStatistics: Sendable {
    /// Predictions `record` accepted into the queue.
    public var predictionsAccepted: Int
    /// Predictions `record` dropped because the queue was full (the overflow policy).
    public var predictionsDropped: Int
    /// Predictions written to the database.
    public var predictionsWritten: Int
    /// Predictions ignored: their request id was already stored, or breaks the column rules.
    public var predictionsIgnored: Int
    /// Predictions lost because writing them failed (see `lastWriteError`).
    public var predictionsFailed: Int
    /// Predictions waiting in the queue now.
    public var predictionsQueued: Int
    /// Write transactions the writer committed.
    public var writeTransactions: Int
    /// Feedback rows stored.
    public var feedbackAttached: Int
    /// The last error the background writer met, if any.
    public var lastWriteError: StoreError?
}
