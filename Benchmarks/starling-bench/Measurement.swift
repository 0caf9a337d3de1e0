#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Seconds on the monotonic clock.
func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// Per-call timings of one case: the median over rounds and its spread.
struct Measurement: Encodable {
    var medianSeconds: Double
    var minSeconds: Double
    var p90Seconds: Double
    var rounds: Int
    var callsPerRound: Int

    enum CodingKeys: String, CodingKey {
        case medianSeconds = "median_s", minSeconds = "min_s", p90Seconds = "p90_s", rounds
        case callsPerRound = "calls_per_round"
    }

    /// Times `call` the way `bench_ort.py` does: warm up for `warmupMs` (at least 3 calls), size a
    /// round to last about `roundMs`, then run `rounds` rounds (fewer once `budgetMs` is spent,
    /// never fewer than 5) and keep the time per call of each.
    init(warmupMs: Double, roundMs: Double, rounds: Int, budgetMs: Double, _ call: () -> Void) {
        var warm: [Double] = []
        var start = now()
        while warm.count < 3 || now() - start < warmupMs / 1e3 {
            let t = now()
            call()
            warm.append(now() - t)
        }
        let perCall = Self.median(Array(warm[(warm.count / 2)...]).sorted())
        let calls = max(1, Int((roundMs / 1e3 / perCall).rounded()))
        var samples: [Double] = []
        start = now()
        while samples.count < rounds {
            let t = now()
            for _ in 0..<calls { call() }
            samples.append((now() - t) / Double(calls))
            if samples.count >= 5 && now() - start > budgetMs / 1e3 { break }
        }
        samples.sort()
        medianSeconds = Self.median(samples)
        minSeconds = samples[0]
        p90Seconds = samples[min(samples.count - 1, Int(0.9 * Double(samples.count)))]
        self.rounds = samples.count
        callsPerRound = calls
    }

    /// The median of sorted `values` (the mean of the middle two for an even count, like Python's).
    static func median(_ values: [Double]) -> Double {
        let n = values.count
        return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2
    }
}
