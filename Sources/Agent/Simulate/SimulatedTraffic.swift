#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// One simulated prediction request.
public struct SimulatedRequest: Sendable, Equatable {
    /// Whether it failed (an error, no prediction).
    public var failed: Bool
    /// How long an answered request took, microseconds (0 when failed).
    public var latencyMicroseconds: Int64
    /// For a labelled prediction: whether the label equals the predicted class.
    public var labelMatches: Bool?
}

/// The requests one simulated device sees: pure and seeded, so a fleet with the same seed
/// behaves the same way in every run.
///
/// Each device draws fixed offsets once (its "personality"): accuracy and error rate shifted by
/// up to ± `noise` (absolute), latencies scaled by 1 ± 10 × `noise`. Each request then fails with
/// the device's error rate, takes a log-normal latency with the device's median and p95, gets a
/// label with the feedback share, and that label matches with the device's accuracy. Request
/// counts are Poisson with the rate as mean.
public struct SimulatedTraffic: Sendable {
    private var random: SplitMix64
    private let accuracyOffset: Double
    private let errorOffset: Double
    private let latencyScale: Double

    /// The traffic of device number `index` in a fleet seeded with `seed`.
    public init(seed: UInt64, index: Int, noise: Double) {
        random = SplitMix64(seed: seed ^ (UInt64(truncatingIfNeeded: index) &* 0x9E37_79B9_7F4A_7C15))
        let spread = max(0, noise)
        accuracyOffset = (random.unit() * 2 - 1) * spread
        errorOffset = (random.unit() * 2 - 1) * spread
        latencyScale = max(0.1, 1 + (random.unit() * 2 - 1) * spread * 10)
    }

    /// This device's version of `behaviour` (its fixed offsets applied, clamped to valid ranges).
    public func personal(_ behaviour: VersionBehaviour) -> VersionBehaviour {
        var own = behaviour
        own.accuracy = min(1, max(0, behaviour.accuracy + accuracyOffset))
        // A version without errors stays without errors: the offset only spreads real error rates.
        own.errorRate = behaviour.errorRate == 0 ? 0 : min(1, max(0, behaviour.errorRate + errorOffset))
        own.latencyP50Ms = behaviour.latencyP50Ms * latencyScale
        own.latencyP95Ms = behaviour.latencyP95Ms * latencyScale
        return own
    }

    /// The requests of `seconds` of traffic under `behaviour` (this device's offsets applied).
    public mutating func requests(over seconds: Double, behaviour: VersionBehaviour) -> [SimulatedRequest] {
        let own = personal(behaviour)
        let count = random.poisson(own.requestsPerSecond * max(0, seconds))
        // Log-normal: the median is p50, and p95 sits 1.645 standard deviations above it.
        let sigma = log(own.latencyP95Ms / own.latencyP50Ms) / 1.644_853_6
        var requests: [SimulatedRequest] = []
        requests.reserveCapacity(count)
        for _ in 0..<count {
            if random.unit() < own.errorRate {
                requests.append(SimulatedRequest(failed: true, latencyMicroseconds: 0, labelMatches: nil))
                continue
            }
            let milliseconds = own.latencyP50Ms * exp(sigma * random.normal())
            let labelled = random.unit() < own.feedbackShare
            requests.append(
                SimulatedRequest(
                    failed: false, latencyMicroseconds: max(1, Int64(milliseconds * 1000)),
                    labelMatches: labelled ? random.unit() < own.accuracy : nil))
        }
        return requests
    }
}

/// A small, fast, seedable generator (SplitMix64, Steele et al. 2014).
struct SplitMix64: Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func unit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Poisson with mean `mean`: by multiplying uniforms (Knuth) up to a mean of 30, by the
    /// rounded normal approximation above.
    mutating func poisson(_ mean: Double) -> Int {
        guard mean > 0 else { return 0 }
        if mean > 30 { return max(0, Int((mean + normal() * mean.squareRoot()).rounded())) }
        let limit = exp(-mean)
        var count = 0
        var product = unit()
        while product > limit {
            count += 1
            product *= unit()
        }
        return count
    }

    /// Standard normal (Box-Muller).
    mutating func normal() -> Double {
        let u = max(unit(), 0x1.0p-53)
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * unit())
    }
}
