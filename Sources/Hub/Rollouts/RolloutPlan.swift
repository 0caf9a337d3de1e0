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
    /// Predictions (for error rate and latency) and feedback labels (for accuracy) an arm needs
    /// in the window before its metric counts; fewer leave the gate undecided.
    public var minSamples: Int
    /// An A/B split: the share of the target kept on the new version (phases are then
    /// `[split, 1]`), with no automatic advance; passing gates only report, an operator promotes.
    public var split: Double?

    /// A plan; `validate()` checks it.
    public init(
        phases: [Double], gates: [HealthGate], minDevices: Int, observeMilliseconds: Int64, onFail: OnFail = .rollback,
        split: Double? = nil, minSamples: Int = RolloutPlan.defaultMinSamples
    ) {
        self.minSamples = minSamples
        self.phases = phases
        self.gates = gates
        self.minDevices = minDevices
        self.observeMilliseconds = observeMilliseconds
        self.onFail = onFail
        self.split = split
    }

    /// `minSamples` when a plan does not say.
    public static let defaultMinSamples = 30

    /// Whether a phase whose gates pass moves on by itself (not in an A/B split).
    public var advancesAutomatically: Bool { split == nil }

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
        guard minSamples >= 1 else { throw RolloutError(.invalidPlan, "min-samples must be at least 1") }
        guard observeMilliseconds > 0 else { throw RolloutError(.invalidPlan, "the observation window must be positive") }
        if let split {
            guard split > 0, split < 1, phases == [split, 1] else {
                throw RolloutError(.invalidPlan, "an A/B split is a share in (0%, 100%) with phases [split, 100%]")
            }
        }
    }

    /// Parses a duration like `90s`, `10m`, `1h`, `500ms` (a bare number is seconds), in ms.
    public static func milliseconds(parsing text: String) throws(RolloutError) -> Int64 {
        let trimmed = String(text.trimmingPrefix(while: \.isWhitespace))
        let units: [(String, Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count)
            // "ms" is tried before "s", so "10ms" is 10 milliseconds.
            if let value = Double(number), value > 0, value.isFinite { return Int64((value * factor).rounded()) }
        }
        if let value = Double(trimmed), value > 0, value.isFinite { return Int64((value * 1000).rounded()) }
        throw RolloutError(.invalidPlan, "'\(text)' is not a duration like 30s, 10m or 1h")
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
