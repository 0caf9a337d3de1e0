/// Something that happened on a device, on `devices/{id}/events`: an update phase reached, or an
/// error with a kind and a reason.
///
/// `kind`, `phase` and `error` are open sets: a newer agent may send values this build does not
/// list, and readers keep them as they are (and treat unknown ones as "other").
public struct DeviceEvent: ControlMessage {
    /// "event".
    public static let schema = "event"

    /// The category of an event.
    public struct Kind: RawRepresentable, Codable, Hashable, Sendable {
        /// The raw value on the wire.
        public var rawValue: String
        /// A kind from its wire value.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The update state machine reached `phase`.
        public static let update = Kind(rawValue: "update")
        /// Something failed; see `error` and `reason`.
        public static let error = Kind(rawValue: "error")
        /// A federated-learning task changed state (`phase`: started, finished, skipped).
        public static let federated = Kind(rawValue: "federated")
    }

    /// A phase of the update (or federated task) state machine.
    public struct Phase: RawRepresentable, Codable, Hashable, Sendable {
        /// The raw value on the wire.
        public var rawValue: String
        /// A phase from its wire value.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// Fetching the package's chunks.
        public static let downloading = Phase(rawValue: "downloading")
        /// Checking signature, digests and the model.
        public static let verifying = Phase(rawValue: "verifying")
        /// Verified and ready to activate.
        public static let staged = Phase(rawValue: "staged")
        /// Swapping the new model in.
        public static let activating = Phase(rawValue: "activating")
        /// Serving the new model, watched by health checks.
        public static let probation = Phase(rawValue: "probation")
        /// The new model is the committed one.
        public static let committed = Phase(rawValue: "committed")
        /// Going back to the previous model.
        public static let rollingBack = Phase(rawValue: "rollingBack")
        /// The previous model serves again.
        public static let rolledBack = Phase(rawValue: "rolledBack")
        /// The update was abandoned; the previous model keeps serving.
        public static let failed = Phase(rawValue: "failed")
        /// A federated task began training.
        public static let started = Phase(rawValue: "started")
        /// A federated task sent its update.
        public static let finished = Phase(rawValue: "finished")
        /// A federated task was declined (budget, too few examples, deadline).
        public static let skipped = Phase(rawValue: "skipped")
    }

    /// What kind of error an `error` event reports.
    public struct ErrorKind: RawRepresentable, Codable, Hashable, Sendable {
        /// The raw value on the wire.
        public var rawValue: String
        /// An error kind from its wire value.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// A package or assignment failed verification (signature, key, digest, size).
        public static let verificationFailed = ErrorKind(rawValue: "verificationFailed")
        /// Downloading chunks failed or stalled.
        public static let downloadFailed = ErrorKind(rawValue: "downloadFailed")
        /// A model could not be loaded or activated.
        public static let activationFailed = ErrorKind(rawValue: "activationFailed")
        /// Health checks failed during probation.
        public static let probationFailed = ErrorKind(rawValue: "probationFailed")
        /// Predictions are failing.
        public static let inferenceFailed = ErrorKind(rawValue: "inferenceFailed")
        /// The store ran out of space or failed.
        public static let storageFailed = ErrorKind(rawValue: "storageFailed")
        /// The agent restarted repeatedly.
        public static let crashLoop = ErrorKind(rawValue: "crashLoop")
        /// Local federated training failed.
        public static let trainingFailed = ErrorKind(rawValue: "trainingFailed")
        /// A control message from the hub was malformed or refused.
        public static let protocolFailed = ErrorKind(rawValue: "protocolFailed")
    }

    /// The message id.
    public var id: String
    /// When it happened, ms since the epoch.
    public var time: Int64
    /// The category.
    public var kind: Kind
    /// The phase reached (update and federated events).
    public var phase: Phase?
    /// The error kind (error events).
    public var error: ErrorKind?
    /// What happened, for people (never secrets).
    public var reason: String?
    /// The model concerned, if any.
    public var modelName: ModelName?
    /// The model version concerned, if any.
    public var modelVersion: String?
    /// The rollout (update events) or round (federated events) concerned, if any.
    public var rolloutId: String?

    /// An event.
    public init(
        id: String, time: Int64, kind: Kind, phase: Phase? = nil, error: ErrorKind? = nil, reason: String? = nil,
        modelName: ModelName? = nil, modelVersion: String? = nil, rolloutId: String? = nil
    ) {
        self.id = id
        self.time = time
        self.kind = kind
        self.phase = phase
        self.error = error
        self.reason = reason
        self.modelName = modelName
        self.modelVersion = modelVersion
        self.rolloutId = rolloutId
    }

    /// Checks the open values are identifiers, and that update events have a phase and error
    /// events an error kind.
    public func validate() throws(ProtocolError) {
        let s = Self.schema
        try FieldCheck.identifier(kind.rawValue, s, "kind")
        try FieldCheck.identifier(phase?.rawValue, s, "phase")
        try FieldCheck.identifier(error?.rawValue, s, "error")
        try FieldCheck.text(reason, s, "reason")
        try FieldCheck.text(modelVersion, s, "modelVersion", maxBytes: 64)
        try FieldCheck.identifier(rolloutId, s, "rolloutId")
        if kind == .update && phase == nil { throw FieldCheck.fail(s, "phase", "is required for update events") }
        if kind == .error && error == nil { throw FieldCheck.fail(s, "error", "is required for error events") }
    }
}
