/// A health gate of a rollout phase: `METRIC OP BOUND`, where the bound is a number or is
/// relative to the baseline version's value of the same metric, e.g.
/// `error_rate <= baseline + 0.01`, `p95_latency <= 1.2 * baseline`, `accuracy >= baseline - 0.02`.
public struct HealthGate: Sendable, Equatable, CustomStringConvertible {
    /// What a gate measures, from the devices' telemetry.
    public enum Metric: String, Sendable, CaseIterable {
        /// Failed predictions over all, 0 to 1.
        case errorRate = "error_rate"
        /// Median latency, ms.
        case p50Latency = "p50_latency"
        /// 95th-percentile latency, ms.
        case p95Latency = "p95_latency"
        /// Feedback labels matching the prediction, 0 to 1.
        case accuracy
        /// Update failures and rollbacks reported by devices on the version.
        case rollbacks
    }

    /// How the value compares with the bound.
    public enum Comparison: String, Sendable, CaseIterable {
        case atMost = "<="
        case atLeast = ">="
        case below = "<"
        case above = ">"
    }

    /// The bound: a constant, or the baseline scaled and shifted.
    public enum Bound: Sendable, Equatable {
        /// A fixed value.
        case constant(Double)
        /// `factor * baseline + offset`.
        case baseline(factor: Double, offset: Double)
    }

    /// The metric.
    public var metric: Metric
    /// The comparison.
    public var comparison: Comparison
    /// The bound.
    public var bound: Bound

    /// A gate.
    public init(metric: Metric, comparison: Comparison, bound: Bound) {
        self.metric = metric
        self.comparison = comparison
        self.bound = bound
    }

    /// What a gate says about a window.
    public enum Verdict: Sendable, Equatable {
        /// The candidate meets the gate.
        case pass
        /// The candidate does not; the text says by how much.
        case fail(String)
        /// A value is missing (no telemetry of that kind yet): keep observing.
        case unknown
    }

    /// The verdict for the candidate's and the baseline's values of `metric`.
    public func evaluate(candidate: Double?, baseline: Double?) -> Verdict {
        guard let candidate, candidate.isFinite else { return .unknown }
        let limit: Double
        switch bound {
        case .constant(let value): limit = value
        case .baseline(let factor, let offset):
            guard let baseline, baseline.isFinite else { return .unknown }
            limit = factor * baseline + offset
        }
        let ok: Bool =
            switch comparison {
            case .atMost: candidate <= limit + 1e-12
            case .atLeast: candidate >= limit - 1e-12
            case .below: candidate < limit
            case .above: candidate > limit
            }
        return ok ? .pass : .fail("\(metric.rawValue) \(Self.format(candidate)) is not \(comparison.rawValue) \(Self.format(limit)) (\(self))")
    }

    public var description: String {
        let right: String =
            switch bound {
            case .constant(let value): Self.format(value)
            case .baseline(let factor, let offset):
                (factor == 1 ? "baseline" : "\(Self.format(factor)) * baseline")
                    + (offset == 0 ? "" : offset > 0 ? " + \(Self.format(offset))" : " - \(Self.format(-offset))")
            }
        return "\(metric.rawValue) \(comparison.rawValue) \(right)"
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}
