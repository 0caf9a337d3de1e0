import Synchronization

/// Serving counters over one telemetry window, fed by the inference path and emptied by the
/// sync session each time it sends telemetry.
///
/// Thread-safe (one `Mutex`; recording is a few additions). Latency quantiles come from a
/// log-bucket histogram (`LatencySketch`): within 1 % (relative) of the exact order statistic
/// `⌊q·(n−1)⌋` of the window's latencies, in fixed memory however many predictions there are.
public final class TelemetryWindow: Sendable {
    /// What one window counted.
    public struct Snapshot: Sendable, Equatable {
        /// Predictions answered.
        public var predictions: Int
        /// Prediction requests that failed.
        public var failures: Int
        /// `failures / (predictions + failures)`; 0 without requests.
        public var errorRate: Double
        /// Median latency of the answered predictions in milliseconds (0 without any).
        public var latencyP50Ms: Double
        /// 95th-percentile latency in milliseconds (0 without any).
        public var latencyP95Ms: Double
    }

    private struct State {
        var failures = 0
        var latencies = LatencySketch()
    }

    private let state = Mutex(State())

    /// An empty window.
    public init() {}

    /// Counts an answered prediction that took `latency`.
    public func recordSuccess(latency: Duration) {
        state.withLock { $0.latencies.record(latency) }
    }

    /// Counts a prediction request that failed.
    public func recordFailure() {
        state.withLock { $0.failures += 1 }
    }

    /// The counts so far, without resetting them.
    public func peek() -> Snapshot {
        Self.summarize(state.withLock { $0 })
    }

    /// The counts of the window that ends now; the next window starts empty.
    public func snapshotAndReset() -> Snapshot {
        // The 8 KiB of buckets are swapped under the lock and summarized outside it.
        var fresh = State()
        state.withLock { swap(&$0, &fresh) }
        let taken = fresh
        return Self.summarize(taken)
    }

    private static func summarize(_ state: State) -> Snapshot {
        let predictions = state.latencies.count
        let requests = predictions + state.failures
        return Snapshot(
            predictions: predictions, failures: state.failures,
            errorRate: requests == 0 ? 0 : Double(state.failures) / Double(requests),
            latencyP50Ms: state.latencies.quantileMilliseconds(0.5),
            latencyP95Ms: state.latencies.quantileMilliseconds(0.95))
    }
}
