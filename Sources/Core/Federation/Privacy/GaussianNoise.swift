#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The Gaussian noise of central differential privacy, drawn from a `RandomSource` seeded per
/// round so a restarted hub draws the same noise for the same round.
public enum GaussianNoise {
    /// Flower's noise standard deviation for a mean of `clients` clipped updates:
    /// σ · C / m (noise multiplier times clipping norm over sampled clients).
    public static func standardDeviation(noiseMultiplier: Double, clippingNorm: Double, sampledClients: Int) -> Double {
        noiseMultiplier * clippingNorm / Double(sampledClients)
    }

    /// The generator for `round` of a wrapper seeded with `seed`.
    public static func source(seed: UInt64, round: Int) -> RandomSource {
        RandomSource(seed: seed ^ (UInt64(truncatingIfNeeded: round) &* 0x9E37_79B9_7F4A_7C15))
    }

    /// A standard normal sample in Double precision (Box-Muller on 53-bit uniforms; the second
    /// value of each pair is discarded to keep the stream simple to resume).
    public static func standardNormal(_ random: inout RandomSource) -> Double {
        let u1 = Double(random.next() >> 11 | 1) * 0x1p-53  // in (0, 1): log stays finite
        let u2 = Double(random.next() >> 11) * 0x1p-53
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// Adds N(0, std²) to every value.
    public static func add(to values: inout [Float], standardDeviation std: Double, _ random: inout RandomSource) {
        guard std > 0 else { return }
        for i in 0..<values.count { values[i] = Float(Double(values[i]) + std * standardNormal(&random)) }
    }
}
