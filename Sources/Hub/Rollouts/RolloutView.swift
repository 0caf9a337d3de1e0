/// A rollout as the API shows it: the stored record, how far it got on the fleet, what the
/// gates see and its latest events.
public struct RolloutView: Sendable, Equatable, Encodable {
    /// Devices of the target by where they stand.
    public struct Progress: Sendable, Equatable, Codable {
        /// Enrolled devices matching the selector.
        public var target: Int
        /// Devices the current phase assigns the candidate (all of them once completed; none
        /// after a rollback).
        public var assigned: Int
        /// Target devices reporting the candidate version.
        public var onCandidate: Int
        /// Target devices reporting the baseline version.
        public var onBaseline: Int
    }

    /// The stored rollout.
    public var record: RolloutRecord
    /// Where the fleet stands.
    public var progress: Progress
    /// What the gates see now (the candidate and baseline arms of an A/B split).
    public var health: PhaseHealth
    /// The latest events, oldest first.
    public var events: [RolloutEvent.Logged]

    private enum Keys: String, CodingKey { case progress, health, events }
    private enum HealthKeys: String, CodingKey { case reportingDevices, candidate, baseline }

    public func encode(to encoder: any Encoder) throws {
        try record.encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(progress, forKey: .progress)
        var h = c.nestedContainer(keyedBy: HealthKeys.self, forKey: .health)
        try h.encode(health.reportingDevices, forKey: .reportingDevices)
        try h.encode(Self.byName(health.candidate), forKey: .candidate)
        try h.encode(Self.byName(health.baseline), forKey: .baseline)
        try c.encode(events, forKey: .events)
    }

    private static func byName(_ metrics: [HealthGate.Metric: Double]) -> [String: Double] {
        Dictionary(uniqueKeysWithValues: metrics.filter { $0.value.isFinite }.map { ($0.key.rawValue, $0.value) })
    }
}
