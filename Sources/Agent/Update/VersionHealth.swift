import Synchronization

/// Request outcomes per model version, for the probation verdict: counts and the latencies of
/// the most recent requests (a bounded ring per version).
public final class VersionHealth: Sendable {
    /// What a version did since it was first seen.
    public struct Snapshot: Sendable, Equatable {
        /// Requests answered.
        public var successes = 0
        /// Requests that failed inside the model (not the client's malformed ones).
        public var failures = 0
        /// Latencies of the most recent successes, microseconds, oldest first.
        public var recentLatencies: [Int64] = []

        /// Failures over all requests; 0 without requests.
        public var errorRate: Double {
            successes + failures == 0 ? 0 : Double(failures) / Double(successes + failures)
        }

        /// The 95th percentile of the recent latencies (nearest rank), or nil without any.
        public var latencyP95: Int64? {
            guard !recentLatencies.isEmpty else { return nil }
            let sorted = recentLatencies.sorted()
            let rank = Int((0.95 * Double(sorted.count)).rounded(.up))
            return sorted[max(0, min(sorted.count - 1, rank - 1))]
        }
    }

    private struct Series {
        var snapshot = Snapshot()
        var next = 0
    }

    private let series = Mutex<[String: Series]>([:])
    /// Latencies kept per version.
    public let capacity: Int

    /// Keeps up to `capacity` latencies per version.
    public init(capacity: Int = 1024) {
        self.capacity = max(1, capacity)
    }

    /// Counts a request `model`@`version` answered in `latencyMicroseconds`.
    public func recordSuccess(model: String, version: String, latencyMicroseconds: Int64) {
        let capacity = capacity
        series.withLock { all in
            var entry = all[Self.key(model, version), default: Series()]
            entry.snapshot.successes += 1
            if entry.snapshot.recentLatencies.count < capacity {
                entry.snapshot.recentLatencies.append(latencyMicroseconds)
            } else {
                entry.snapshot.recentLatencies[entry.next] = latencyMicroseconds
                entry.next = (entry.next + 1) % capacity
            }
            all[Self.key(model, version)] = entry
        }
    }

    /// Counts a request on `model`@`version` that failed.
    public func recordFailure(model: String, version: String) {
        series.withLock { all in all[Self.key(model, version), default: Series()].snapshot.failures += 1 }
    }

    /// Forgets what `model`@`version` did: a version swapped in again (a rollback to it, or a
    /// reinstall) is judged on what it answers from then on, not on an older stint.
    public func reset(model: String, version: String) {
        _ = series.withLock { $0.removeValue(forKey: Self.key(model, version)) }
    }

    /// What `model`@`version` did so far.
    public func snapshot(model: String, version: String) -> Snapshot {
        series.withLock { $0[Self.key(model, version)]?.snapshot ?? Snapshot() }
    }

    private static func key(_ model: String, _ version: String) -> String { model + "\u{0}" + version }
}

/// The probation rule: the new version fails when its error rate exceeds the previous version's
/// by more than `maxErrorRateIncrease`, or its p95 latency exceeds `maxLatencyRatio` times the
/// previous version's. With fewer than `minRequests` requests on the new version there is no
/// evidence of harm, and it passes.
public struct ProbationRule: Sendable, Equatable {
    /// Largest tolerated rise of the error rate (absolute, 0 to 1).
    public var maxErrorRateIncrease: Double
    /// Largest tolerated factor of p95 latency.
    public var maxLatencyRatio: Double
    /// Requests the new version needs before it can fail on rates.
    public var minRequests: Int

    /// A rule.
    public init(maxErrorRateIncrease: Double = 0.05, maxLatencyRatio: Double = 2, minRequests: Int = 20) {
        self.maxErrorRateIncrease = maxErrorRateIncrease
        self.maxLatencyRatio = maxLatencyRatio
        self.minRequests = minRequests
    }

    /// Nil when `candidate` passes against `baseline`; why it fails otherwise.
    public func verdict(candidate: VersionHealth.Snapshot, baseline: VersionHealth.Snapshot) -> String? {
        guard candidate.successes + candidate.failures >= minRequests else { return nil }
        let rise = candidate.errorRate - baseline.errorRate
        if rise > maxErrorRateIncrease {
            return "error rate \(percent(candidate.errorRate)) against \(percent(baseline.errorRate)) before (limit +\(percent(maxErrorRateIncrease)))"
        }
        if let new = candidate.latencyP95, let old = baseline.latencyP95, old > 0,
            Double(new) > maxLatencyRatio * Double(old)
        {
            return "p95 latency \(new) µs against \(old) µs before (limit \(maxLatencyRatio)×)"
        }
        return nil
    }

    private func percent(_ rate: Double) -> String {
        String(Double(Int((rate * 1000).rounded())) / 10) + " %"
    }
}
