/// Central differential privacy settings for a strategy configuration, with Flower's parameter
/// names as JSON keys.
public struct PrivacyConfiguration: Codable, Sendable, Equatable {
    /// How the clipping norm is chosen.
    public enum Clipping: String, Codable, Sendable, CaseIterable {
        /// `FixedClippingDP`.
        case fixed
        /// `AdaptiveClippingDP`.
        case adaptive
    }

    /// Fixed or adaptive clipping.
    public var clipping: Clipping
    /// z, Flower's `noise_multiplier`.
    public var noiseMultiplier: Double
    /// m, Flower's `num_sampled_clients`.
    public var numSampledClients: Int
    /// C for fixed clipping (required there), Flower's `clipping_norm`.
    public var clippingNorm: Double?
    /// C₀ for adaptive clipping (default 0.1).
    public var initialClippingNorm: Double?
    /// γ for adaptive clipping (default 0.5).
    public var targetClippedQuantile: Double?
    /// η_C for adaptive clipping (default 0.2).
    public var clipNormLR: Double?
    /// σ_b for adaptive clipping (default m/20 when z > 0).
    public var clippedCountStddev: Double?
    /// The norm bit adaptive clipping counts (default `unclipped`, Andrew et al.).
    public var normBit: AdaptiveClippingDP.NormBit?
    /// Seed of the noise (default 0; set a secret random one in production).
    public var seed: UInt64?

    enum CodingKeys: String, CodingKey {
        case clipping, noiseMultiplier = "noise_multiplier", numSampledClients = "num_sampled_clients"
        case clippingNorm = "clipping_norm", initialClippingNorm = "initial_clipping_norm"
        case targetClippedQuantile = "target_clipped_quantile", clipNormLR = "clip_norm_lr"
        case clippedCountStddev = "clipped_count_stddev", normBit = "norm_bit", seed
    }

    /// Settings for `clipping`; the rest take their defaults.
    public init(clipping: Clipping, noiseMultiplier: Double, numSampledClients: Int, clippingNorm: Double? = nil) {
        self.clipping = clipping
        self.noiseMultiplier = noiseMultiplier
        self.numSampledClients = numSampledClients
        self.clippingNorm = clippingNorm
    }

    /// `inner` wrapped in the configured mechanism.
    public func wrap(_ inner: any AggregationStrategy) throws(FederationError) -> any AggregationStrategy {
        switch clipping {
        case .fixed:
            guard let clippingNorm else {
                throw FederationError(.invalidArgument, "clipping_norm is required for fixed clipping")
            }
            for (key, value) in [
                ("initial_clipping_norm", initialClippingNorm), ("target_clipped_quantile", targetClippedQuantile),
                ("clip_norm_lr", clipNormLR), ("clipped_count_stddev", clippedCountStddev),
            ] where value != nil {
                throw FederationError(.invalidArgument, "\(key) applies to adaptive clipping only")
            }
            return try FixedClippingDP(
                wrapping: inner, noiseMultiplier: noiseMultiplier, clippingNorm: clippingNorm,
                numSampledClients: numSampledClients, seed: seed ?? 0)
        case .adaptive:
            if clippingNorm != nil {
                throw FederationError(.invalidArgument, "clipping_norm applies to fixed clipping; use initial_clipping_norm")
            }
            return try AdaptiveClippingDP(
                wrapping: inner, noiseMultiplier: noiseMultiplier, numSampledClients: numSampledClients,
                initialClippingNorm: initialClippingNorm ?? 0.1, targetClippedQuantile: targetClippedQuantile ?? 0.5,
                clipNormLR: clipNormLR ?? 0.2, clippedCountStddev: clippedCountStddev, normBit: normBit ?? .unclipped,
                seed: seed ?? 0)
        }
    }
}
