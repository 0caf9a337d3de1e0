/// How a version reaches a target: phases of growing shares, gates checked over an observation
/// window in each phase, and what a failing gate does.
public struct RolloutPlan: Sendable, Equatable {
    /// What a failing gate does.
    public enum OnFail: String, Sendable, CaseIterable {
        /// Assign the baseline version again to every device of the rollout.
        case rollback
        /// Stop where it is until an operator resumes, promotes or aborts.
        case pause
    }

    /// The share of the target devices on the new version in each phase, increasing, the last 1.
    public var phases: [Double]
    /// Gates every phase must pass.
    public var gates: [HealthGate]
    /// Devices on the new version that must report before a phase can pass or fail.
    public var minDevices: Int
    /// How long each phase is observed, ms.
    public var observeMilliseconds: Int64
    /// What a failing gate does.
    public var onFail: OnFail

    /// A plan; `validate()` checks it.
    public init(phases: [Double], gates: [HealthGate], minDevices: Int, observeMilliseconds: Int64, onFail: OnFail = .rollback) {
        self.phases = phases
        self.gates = gates
        self.minDevices = minDevices
        self.observeMilliseconds = observeMilliseconds
        self.onFail = onFail
    }

    /// Parses phases like `5%,25%,100%`.
    public static func phases(parsing text: String) throws(RolloutError) -> [Double] {
        var result: [Double] = []
        for part in text.split(separator: ",") {
            let trimmed = part.trimmingPrefix(while: \.isWhitespace)
            guard trimmed.hasSuffix("%"), let value = Double(trimmed.dropLast()), value > 0, value <= 100 else {
                throw RolloutError(.invalidPlan, "phase '\(part)' must be a percentage in (0, 100], e.g. 5%,25%,100%")
            }
            result.append(value / 100)
        }
        return result
    }

    /// Checks phases increase and end at 100 %, at least one device, a positive window.
    public func validate() throws(RolloutError) {
        guard !phases.isEmpty, phases.last == 1 else {
            throw RolloutError(.invalidPlan, "the last phase must be 100%")
        }
        guard zip(phases, phases.dropFirst()).allSatisfy({ $0 < $1 }), phases.allSatisfy({ $0 > 0 }) else {
            throw RolloutError(.invalidPlan, "phases must increase (e.g. 5%,25%,100%)")
        }
        guard minDevices >= 1 else { throw RolloutError(.invalidPlan, "min-devices must be at least 1") }
        guard observeMilliseconds > 0 else { throw RolloutError(.invalidPlan, "the observation window must be positive") }
    }
}

/// What the fleet says about a rollout's versions over the current window.
public struct PhaseHealth: Sendable, Equatable {
    /// Devices on the new version that reported telemetry in the window.
    public var reportingDevices: Int
    /// The new version's aggregates by metric.
    public var candidate: [HealthGate.Metric: Double]
    /// The baseline version's aggregates by metric.
    public var baseline: [HealthGate.Metric: Double]

    /// Aggregates.
    public init(reportingDevices: Int, candidate: [HealthGate.Metric: Double], baseline: [HealthGate.Metric: Double]) {
        self.reportingDevices = reportingDevices
        self.candidate = candidate
        self.baseline = baseline
    }
}
