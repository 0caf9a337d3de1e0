#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Latency quantiles with a bounded relative error in fixed memory: the log-bucket histogram of
/// DDSketch (Masson, Rim and Lee, "DDSketch: a fast and fully-mergeable quantile sketch with
/// relative-error guarantees", VLDB 2019).
///
/// Bucket `i` counts values in `(γ^(i-1), γ^i]` microseconds with `γ = (1 + α) / (1 - α)` and
/// `α = relativeAccuracy` (1 %); it reports `2γ^i / (γ + 1)`, which is within `α` of every value
/// in the bucket. So `quantile(q)` is within 1 % (relative) of the `⌊q·(n−1)⌋`-th smallest value
/// recorded (NumPy's `percentile(..., method="lower")`), for values from 1 µs to 1,000 s.
/// Values below 1 µs count as 1 µs; values above 1,000 s as 1,000 s. Memory: 1,038 counters.
struct LatencySketch: Sendable {
    /// The relative accuracy `α` of every quantile.
    static let relativeAccuracy = 0.01
    static let gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy)
    static let logGamma = log(gamma)
    /// The largest value with its own buckets, in microseconds (1,000 s).
    static let maxMicroseconds = 1e9
    static let bucketCount = Int((log(maxMicroseconds) / logGamma).rounded(.up)) + 1

    private(set) var counts: [Int]
    /// Values recorded.
    private(set) var count = 0

    /// An empty sketch.
    init() {
        counts = Array(repeating: 0, count: Self.bucketCount)
    }

    /// The bucket of a value in microseconds.
    static func bucket(ofMicroseconds value: Double) -> Int {
        guard value > 1 else { return 0 }
        let index = Int((log(value) / logGamma).rounded(.up))
        return min(max(index, 0), bucketCount - 1)
    }

    /// The value a bucket reports, in microseconds.
    static func representative(ofBucket index: Int) -> Double {
        2 * pow(gamma, Double(index)) / (gamma + 1)
    }

    /// Counts one latency.
    mutating func record(_ latency: Duration) {
        let parts = latency.components
        let microseconds = Double(parts.seconds) * 1e6 + Double(parts.attoseconds) * 1e-12
        counts[Self.bucket(ofMicroseconds: microseconds)] += 1
        count += 1
    }

    /// The `q`-quantile (0...1) in milliseconds; 0 when nothing was recorded.
    func quantileMilliseconds(_ q: Double) -> Double {
        guard count > 0 else { return 0 }
        let rank = Int((min(max(q, 0), 1) * Double(count - 1)).rounded(.down))
        var seen = 0
        for (index, bucketCount) in counts.enumerated() where bucketCount > 0 {
            seen += bucketCount
            if seen > rank { return Self.representative(ofBucket: index) / 1000 }
        }
        return Self.representative(ofBucket: counts.count - 1) / 1000
    }
}
