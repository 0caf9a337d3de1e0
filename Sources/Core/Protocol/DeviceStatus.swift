/// A device's presence: published retained on `devices/{id}/status` when the agent connects,
/// and registered as its last will (state `offline`) so the broker announces a lost connection.
public struct DeviceStatus: ControlMessage {
    /// "status".
    public static let schema = "status"

    /// Whether the device is connected.
    public enum State: String, Codable, Sendable {
        /// The agent is connected and serving.
        case online
        /// The agent disconnected (cleanly, or the broker published its last will).
        case offline
    }

    /// The message id.
    public var id: String
    /// When the agent wrote it (for a last will: when the session began), ms since the epoch.
    public var time: Int64
    /// Online or offline.
    public var state: State
    /// The agent's version (semantic version).
    public var agentVersion: String
    /// The firmware profile the device runs with (e.g. `rpi4-arm64`).
    public var firmwareProfile: String
    /// The model being served, if any.
    public var modelName: ModelName?
    /// The version of the model being served, if any.
    public var modelVersion: String?
    /// Why the device went offline (`shutdown`, `connection lost`), for people.
    public var reason: String?

    /// A status message.
    public init(
        id: String, time: Int64, state: State, agentVersion: String, firmwareProfile: String,
        modelName: ModelName? = nil, modelVersion: String? = nil, reason: String? = nil
    ) {
        self.id = id
        self.time = time
        self.state = state
        self.agentVersion = agentVersion
        self.firmwareProfile = firmwareProfile
        self.modelName = modelName
        self.modelVersion = modelVersion
        self.reason = reason
    }

    /// Checks the text fields and that a model version comes with a model name.
    public func validate() throws(ProtocolError) {
        try FieldCheck.text(agentVersion, Self.schema, "agentVersion", maxBytes: 64)
        try FieldCheck.identifier(firmwareProfile, Self.schema, "firmwareProfile")
        try FieldCheck.text(modelVersion, Self.schema, "modelVersion", maxBytes: 64)
        try FieldCheck.text(reason, Self.schema, "reason")
        if modelVersion != nil && modelName == nil {
            throw FieldCheck.fail(Self.schema, "modelVersion", "is set without 'modelName'")
        }
    }
}

/// Periodic health and model metrics over a window ending at `time`, on `devices/{id}/telemetry`.
/// The hub's rollout health gates read these (error rate, latency, feedback accuracy).
public struct Telemetry: ControlMessage {
    /// "telemetry".
    public static let schema = "telemetry"

    /// The message id.
    public var id: String
    /// The end of the window, ms since the epoch.
    public var time: Int64
    /// The window's length in milliseconds; counters cover `time - windowMs ..< time`.
    public var windowMs: Int64
    /// The model served during the window, if any.
    public var modelName: ModelName?
    /// The model version served during the window, if any.
    public var modelVersion: String?
    /// Predictions answered in the window.
    public var predictions: Int
    /// Failed predictions over all prediction requests in the window, 0 to 1.
    public var errorRate: Double
    /// Median prediction latency in milliseconds.
    public var latencyP50Ms: Double
    /// 95th-percentile prediction latency in milliseconds.
    public var latencyP95Ms: Double
    /// Feedback labels received in the window.
    public var feedbackCount: Int
    /// Fraction of those labels that matched the logged prediction; nil without feedback.
    public var feedbackAccuracy: Double?
    /// CPU use of the agent as a share of the whole machine, 0 to 100.
    public var cpuPercent: Double
    /// Resident memory of the agent in bytes.
    public var rssBytes: Int64
    /// Disk space the agent's store and models use, in bytes.
    public var diskUsedBytes: Int64
    /// Whether the device would train on a federated `fit` task now: federated learning on, a
    /// signing key, and a firmware profile that allows training (nil: not reported).
    public var canTrain: Bool?
    /// Labelled examples of the served model the device could train on (labelled predictions
    /// with logged inputs, up to `federated.maxExamples`; nil: not reported).
    public var labelledExamples: Int?

    /// A telemetry message.
    public init(
        id: String, time: Int64, windowMs: Int64, modelName: ModelName? = nil, modelVersion: String? = nil,
        predictions: Int, errorRate: Double, latencyP50Ms: Double, latencyP95Ms: Double,
        feedbackCount: Int, feedbackAccuracy: Double? = nil, cpuPercent: Double, rssBytes: Int64, diskUsedBytes: Int64,
        canTrain: Bool? = nil, labelledExamples: Int? = nil
    ) {
        self.canTrain = canTrain
        self.labelledExamples = labelledExamples
        self.id = id
        self.time = time
        self.windowMs = windowMs
        self.modelName = modelName
        self.modelVersion = modelVersion
        self.predictions = predictions
        self.errorRate = errorRate
        self.latencyP50Ms = latencyP50Ms
        self.latencyP95Ms = latencyP95Ms
        self.feedbackCount = feedbackCount
        self.feedbackAccuracy = feedbackAccuracy
        self.cpuPercent = cpuPercent
        self.rssBytes = rssBytes
        self.diskUsedBytes = diskUsedBytes
    }

    /// Checks counts, rates and latencies are in range and finite.
    public func validate() throws(ProtocolError) {
        let s = Self.schema
        try FieldCheck.range(windowMs, 1...Int64.max, s, "windowMs")
        try FieldCheck.text(modelVersion, s, "modelVersion", maxBytes: 64)
        try FieldCheck.range(predictions, 0...Int.max, s, "predictions")
        try FieldCheck.finite(errorRate, 0...1, s, "errorRate")
        try FieldCheck.finite(latencyP50Ms, 0...Double.greatestFiniteMagnitude, s, "latencyP50Ms")
        try FieldCheck.finite(latencyP95Ms, 0...Double.greatestFiniteMagnitude, s, "latencyP95Ms")
        try FieldCheck.range(feedbackCount, 0...Int.max, s, "feedbackCount")
        try FieldCheck.finite(feedbackAccuracy, 0...1, s, "feedbackAccuracy")
        try FieldCheck.finite(cpuPercent, 0...100, s, "cpuPercent")
        try FieldCheck.range(rssBytes, 0...Int64.max, s, "rssBytes")
        try FieldCheck.range(diskUsedBytes, 0...Int64.max, s, "diskUsedBytes")
        try FieldCheck.range(labelledExamples, 0...Int.max, s, "labelledExamples")
    }
}
