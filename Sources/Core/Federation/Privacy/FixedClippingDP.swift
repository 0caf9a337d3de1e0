/// Central differential privacy with a fixed clipping norm, after Flower's
/// `DifferentialPrivacyServerSideFixedClipping` (McMahan et al., 2018): every update's delta is
/// scaled to L2 norm at most `clippingNorm`, the wrapped strategy aggregates, and Gaussian noise
/// of standard deviation `noiseMultiplier · clippingNorm / numSampledClients` is added to the
/// new global. Wraps any strategy; the guarantee assumes an unweighted mean of m clients
/// (equal example counts, or FedAvg over equal weights).
public struct FixedClippingDP: AggregationStrategy {
    /// "dp-fixed(" + the wrapped strategy's name + ")".
    public var name: String { "dp-fixed(\(inner.name))" }
    /// z, noise standard deviation relative to the clipping norm (Flower's `noise_multiplier`).
    public let noiseMultiplier: Double
    /// C, the L2 bound on each delta (Flower's `clipping_norm`).
    public let clippingNorm: Double
    /// m, the clients sampled per round (Flower's `num_sampled_clients`).
    public let numSampledClients: Int
    /// Seed of the noise; round r draws from `GaussianNoise.source(seed:round:)`.
    public let seed: UInt64
    /// The round being aggregated, from 1.
    public private(set) var round = 1
    /// Updates clipped this round.
    public private(set) var clippedCount = 0
    private var inner: any AggregationStrategy

    /// Wraps `inner`; z ≥ 0, C > 0, m > 0.
    public init(
        wrapping inner: any AggregationStrategy, noiseMultiplier: Double, clippingNorm: Double, numSampledClients: Int,
        seed: UInt64 = 0
    ) throws(FederationError) {
        guard noiseMultiplier >= 0, noiseMultiplier.isFinite else {
            throw FederationError(.invalidArgument, "noise_multiplier must be ≥ 0, got \(noiseMultiplier)")
        }
        guard clippingNorm > 0, clippingNorm.isFinite else {
            throw FederationError(.invalidArgument, "clipping_norm must be > 0, got \(clippingNorm)")
        }
        guard numSampledClients > 0 else {
            throw FederationError(.invalidArgument, "num_sampled_clients must be > 0, got \(numSampledClients)")
        }
        self.inner = inner
        (self.noiseMultiplier, self.clippingNorm, self.numSampledClients, self.seed) =
            (noiseMultiplier, clippingNorm, numSampledClients, seed)
    }

    /// The standard deviation of the noise added to each parameter.
    public var noiseStandardDeviation: Double {
        GaussianNoise.standardDeviation(
            noiseMultiplier: noiseMultiplier, clippingNorm: clippingNorm, sampledClients: numSampledClients)
    }

    /// Updates added since `beginRound`.
    public var updateCount: Int { inner.updateCount }

    /// Starts a round from `global`.
    public mutating func beginRound(global: [Float]) throws(FederationError) {
        try inner.beginRound(global: global)
        clippedCount = 0
    }

    /// Clips `update`'s delta to `clippingNorm` and passes it on.
    public mutating func add(_ update: ClientUpdate) throws(FederationError) {
        var update = update
        let (delta, clipped) = AggregationMath.clipped(update.delta, to: clippingNorm)
        update.delta = delta
        try inner.add(update)
        if clipped { clippedCount += 1 }
    }

    /// The wrapped strategy's new global plus Gaussian noise.
    public mutating func finishRound() throws(FederationError) -> [Float] {
        var out = try inner.finishRound()
        var random = GaussianNoise.source(seed: seed, round: round)
        GaussianNoise.add(to: &out, standardDeviation: noiseStandardDeviation, &random)
        round += 1
        clippedCount = 0
        return out
    }

    /// Settings, counters and the wrapped strategy's snapshot.
    public func snapshot() -> [UInt8] {
        var w = SnapshotWriter(name: "dp-fixed")
        for value in [noiseMultiplier, clippingNorm, Double(numSampledClients), Double(bitPattern: seed)] { w.double(value) }
        w.int(round)
        w.int(clippedCount)
        w.blob(inner.snapshot())
        return w.bytes
    }

    /// Restores a snapshot of the same configuration.
    public mutating func restore(_ snapshot: [UInt8]) throws(FederationError) {
        var r = try SnapshotReader(snapshot, name: "dp-fixed")
        try r.expect(noiseMultiplier, "noise_multiplier")
        try r.expect(clippingNorm, "clipping_norm")
        try r.expect(Double(numSampledClients), "num_sampled_clients")
        try r.expect(Double(bitPattern: seed), "seed")
        let round = try r.int(), clipped = try r.int()
        let innerBytes = try r.blob()
        try r.finish()
        try inner.restore(innerBytes)
        (self.round, self.clippedCount) = (round, clipped)
    }
}
