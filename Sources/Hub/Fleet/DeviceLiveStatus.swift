import Core

/// What the hub last heard from a device: presence from its retained status and last will,
/// health from its latest telemetry.
public struct DeviceLiveStatus: Sendable, Equatable, Codable {
    /// Presence as last announced.
    public enum Presence: String, Sendable, Codable {
        /// The retained status says online.
        case online
        /// The device said offline, or the broker published its last will.
        case offline
        /// Nothing heard yet.
        case unknown
    }

    /// The latest telemetry window, in short.
    public struct TelemetrySummary: Sendable, Equatable, Codable {
        /// The end of the window, ms since the epoch (device clock).
        public var time: Int64
        /// The window's length in ms.
        public var windowMs: Int64
        /// Predictions in the window.
        public var predictions: Int
        /// Failed predictions over all requests, 0 to 1.
        public var errorRate: Double
        /// 95th-percentile latency in ms.
        public var latencyP95Ms: Double
        /// Labels received in the window.
        public var feedbackCount: Int
        /// Share of labels that matched the prediction; nil without feedback.
        public var feedbackAccuracy: Double?
        /// The model served in the window.
        public var modelName: String?
        /// Its version.
        public var modelVersion: String?
        /// Whether the device would train on a federated `fit` task (nil: not reported).
        public var canTrain: Bool?
        /// Labelled examples it could train on (nil: not reported).
        public var labelledExamples: Int?

        /// The summary of a telemetry message.
        public init(_ telemetry: Telemetry) {
            time = telemetry.time
            windowMs = telemetry.windowMs
            predictions = telemetry.predictions
            errorRate = telemetry.errorRate
            latencyP95Ms = telemetry.latencyP95Ms
            feedbackCount = telemetry.feedbackCount
            feedbackAccuracy = telemetry.feedbackAccuracy
            modelName = telemetry.modelName?.rawValue
            modelVersion = telemetry.modelVersion
            canTrain = telemetry.canTrain
            labelledExamples = telemetry.labelledExamples
        }
    }

    /// A summary of health, for lists and dashboards.
    public enum Health: String, Sendable, Codable {
        /// Online, and the latest telemetry's error rate is within the limit.
        case healthy
        /// Online, and the latest telemetry's error rate is above the limit.
        case degraded
        /// Offline.
        case offline
        /// Online or unheard, without telemetry yet.
        case unknown
    }

    /// The device id.
    public var device: String
    /// Online, offline or unknown.
    public var presence: Presence
    /// When the hub last received a live message from the device (hub clock, ms); for state
    /// rebuilt from a retained status, that status's own time.
    public var lastSeen: Int64?
    /// The agent's version from its status.
    public var agentVersion: String?
    /// The firmware profile from its status.
    public var firmwareProfile: String?
    /// The model it serves (status, or newer telemetry).
    public var modelName: String?
    /// That model's version.
    public var modelVersion: String?
    /// Why it went offline, when it did.
    public var offlineReason: String?
    /// The latest telemetry, if any.
    public var telemetry: TelemetrySummary?

    /// Nothing known yet about `device`.
    public init(device: String) {
        self.device = device
        presence = .unknown
    }

    /// The health summary with `maxErrorRate` as the limit for healthy.
    public func health(maxErrorRate: Double = 0.05) -> Health {
        switch presence {
        case .offline: return .offline
        case .online, .unknown:
            guard let telemetry else { return .unknown }
            return telemetry.errorRate > maxErrorRate ? .degraded : (presence == .online ? .healthy : .unknown)
        }
    }
}
