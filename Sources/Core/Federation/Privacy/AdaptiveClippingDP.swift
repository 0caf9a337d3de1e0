#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Central differential privacy with an adaptive clipping norm (Andrew et al., 2021), after
/// Flower's `DifferentialPrivacyServerSideAdaptiveClipping`: deltas are clipped to the current
/// norm C, the wrapped strategy aggregates, C moves geometrically towards a quantile of the
/// update norms, C ← C · exp(−η_C · (b̃ − γ)) with b̃ a noised fraction of norm bits, and noise of
/// standard deviation z_Δ · C / m (with the new C) is added to the new global. The noise
/// multiplier is split between the updates and the count: z_Δ = (z⁻² − (2σ_b)⁻²)^(−1/2).
public struct AdaptiveClippingDP: AggregationStrategy {
    /// Which updates set the norm bit that the geometric update counts.
    public enum NormBit: String, Codable, Sendable {
        /// Updates whose norm is at most C (Andrew et al.): C tends to the `targetClippedQuantile`
        /// quantile of the norms, so that fraction of updates goes unclipped.
        case unclipped
        /// Updates that were clipped, as Flower 1.42 counts them; with this sign the update moves
        /// C away from the quantile. Kept to reproduce Flower's trajectories.
        case clipped
    }

    /// "dp-adaptive(" + the wrapped strategy's name + ")".
    public var name: String { "dp-adaptive(\(inner.name))" }
    /// z as configured (Flower's `noise_multiplier`).
    public let requestedNoiseMultiplier: Double
    /// z_Δ, the multiplier of the parameters' noise after the count's share is taken.
    public let noiseMultiplier: Double
    /// m, the clients sampled per round (Flower's `num_sampled_clients`).
    public let numSampledClients: Int
    /// C₀ (Flower's `initial_clipping_norm`, default 0.1).
    public let initialClippingNorm: Double
    /// γ (Flower's `target_clipped_quantile`, default 0.5).
    public let targetClippedQuantile: Double
    /// η_C (Flower's `clip_norm_lr`, default 0.2).
    public let clipNormLR: Double
    /// σ_b, the noise on the bit count (Flower's `clipped_count_stddev`; m/20 by default when z > 0).
    public let clippedCountStddev: Double
    /// The bit the count uses.
    public let normBit: NormBit
    /// Seed of the noise; round r draws from `GaussianNoise.source(seed:round:)`.
    public let seed: UInt64
    /// The current clipping norm C.
    public private(set) var clippingNorm: Double
    /// The round being aggregated, from 1.
    public private(set) var round = 1
    /// Updates of this round whose norm bit is set.
    public private(set) var bitCount = 0
    private var inner: any AggregationStrategy

    /// Wraps `inner` with Flower's parameters and defaults.
    public init(
        wrapping inner: any AggregationStrategy, noiseMultiplier: Double, numSampledClients: Int,
        initialClippingNorm: Double = 0.1, targetClippedQuantile: Double = 0.5, clipNormLR: Double = 0.2,
        clippedCountStddev: Double? = nil, normBit: NormBit = .unclipped, seed: UInt64 = 0
    ) throws(FederationError) {
        guard noiseMultiplier >= 0, noiseMultiplier.isFinite else {
            throw FederationError(.invalidArgument, "noise_multiplier must be ≥ 0, got \(noiseMultiplier)")
        }
        guard numSampledClients > 0 else {
            throw FederationError(.invalidArgument, "num_sampled_clients must be > 0, got \(numSampledClients)")
        }
        guard initialClippingNorm > 0, initialClippingNorm.isFinite else {
            throw FederationError(.invalidArgument, "initial_clipping_norm must be > 0, got \(initialClippingNorm)")
        }
        guard targetClippedQuantile >= 0, targetClippedQuantile <= 1 else {
            throw FederationError(.invalidArgument, "target_clipped_quantile must be in [0, 1], got \(targetClippedQuantile)")
        }
        guard clipNormLR > 0, clipNormLR.isFinite else {
            throw FederationError(.invalidArgument, "clip_norm_lr must be > 0, got \(clipNormLR)")
        }
        if let s = clippedCountStddev, !(s >= 0 && s.isFinite) {
            throw FederationError(.invalidArgument, "clipped_count_stddev must be ≥ 0, got \(s)")
        }
        var countStddev = clippedCountStddev ?? 0
        var effective = 0.0
        if noiseMultiplier > 0 {
            countStddev = clippedCountStddev ?? Double(numSampledClients) / 20
            guard noiseMultiplier < 2 * countStddev else {
                throw FederationError(
                    .invalidArgument,
                    "noise_multiplier \(noiseMultiplier) needs clipped_count_stddev > \(noiseMultiplier / 2) (it is \(countStddev); the default is num_sampled_clients / 20)"
                )
            }
            effective = 1 / (1 / (noiseMultiplier * noiseMultiplier) - 1 / (4 * countStddev * countStddev)).squareRoot()
        }
        self.inner = inner
        requestedNoiseMultiplier = noiseMultiplier
        self.noiseMultiplier = effective
        self.numSampledClients = numSampledClients
        self.initialClippingNorm = initialClippingNorm
        self.targetClippedQuantile = targetClippedQuantile
        self.clipNormLR = clipNormLR
        self.clippedCountStddev = countStddev
        self.normBit = normBit
        self.seed = seed
        clippingNorm = initialClippingNorm
    }

    /// Updates added since `beginRound`.
    public var updateCount: Int { inner.updateCount }

    /// Starts a round from `global`.
    public mutating func beginRound(global: [Float]) throws(FederationError) {
        try inner.beginRound(global: global)
        bitCount = 0
    }

    /// Clips `update`'s delta to the current norm, counts its norm bit and passes it on.
    public mutating func add(_ update: ClientUpdate) throws(FederationError) {
        var update = update
        let (delta, clipped) = AggregationMath.clipped(update.delta, to: clippingNorm)
        update.delta = delta
        try inner.add(update)
        if clipped == (normBit == .clipped) { bitCount += 1 }
    }

    /// Moves C from the noised bit fraction, then returns the wrapped strategy's new global plus
    /// noise scaled by the new C.
    public mutating func finishRound() throws(FederationError) -> [Float] {
        let added = inner.updateCount
        var out = try inner.finishRound()
        var random = GaussianNoise.source(seed: seed, round: round)
        let noisedCount = Double(bitCount) + clippedCountStddev * GaussianNoise.standardNormal(&random)
        clippingNorm *= exp(-clipNormLR * (noisedCount / Double(added) - targetClippedQuantile))
        let std = GaussianNoise.standardDeviation(
            noiseMultiplier: noiseMultiplier, clippingNorm: clippingNorm, sampledClients: numSampledClients)
        GaussianNoise.add(to: &out, standardDeviation: std, &random)
        round += 1
        bitCount = 0
        return out
    }

    /// Settings, the clipping norm, counters and the wrapped strategy's snapshot.
    public func snapshot() -> [UInt8] {
        var w = SnapshotWriter(name: "dp-adaptive")
        for value in settings { w.double(value.1) }
        w.double(clippingNorm)
        w.int(round)
        w.int(bitCount)
        w.blob(inner.snapshot())
        return w.bytes
    }

    /// Restores a snapshot of the same configuration.
    public mutating func restore(_ snapshot: [UInt8]) throws(FederationError) {
        var r = try SnapshotReader(snapshot, name: "dp-adaptive")
        for (key, value) in settings { try r.expect(value, key) }
        let norm = try r.double(), round = try r.int(), bits = try r.int()
        let innerBytes = try r.blob()
        try r.finish()
        try inner.restore(innerBytes)
        (clippingNorm, self.round, bitCount) = (norm, round, bits)
    }

    private var settings: [(String, Double)] {
        [
            ("noise_multiplier", requestedNoiseMultiplier), ("num_sampled_clients", Double(numSampledClients)),
            ("initial_clipping_norm", initialClippingNorm), ("target_clipped_quantile", targetClippedQuantile),
            ("clip_norm_lr", clipNormLR), ("clipped_count_stddev", clippedCountStddev),
            ("norm_bit", normBit == .clipped ? 1 : 0), ("seed", Double(bitPattern: seed)),
        ]
    }
}
