/// FedYogi (Reddi et al., 2021), Flower's `FedYogi` with its defaults. Server-side Yogi: like
/// FedAdam without bias correction; the second moment moves additively, `v ← v − (1−β₂)·Δ̄²·sign(v
/// − Δ̄²)`.
/// Streaming: O(parameters) memory per round, plus the two moments.
public struct FedYogi: AggregationStrategy {
    /// "fedyogi".
    public var name: String { "fedyogi" }
    private var core: FedOpt

    /// A FedYogi aggregator with Flower's parameter names (`eta`, `eta_l`, ...) and defaults.
    public init(eta: Double = 1e-2, etaL: Double = 0.0316, beta1: Double = 0.9, beta2: Double = 0.99, tau: Double = 1e-3)
        throws(FederationError)
    {
        core = try FedOpt(.yogi, eta: eta, etaL: etaL, beta1: beta1, beta2: beta2, tau: tau)
    }

    /// Server learning rate η (Flower's `eta`).
    public var eta: Double { core.eta }
    /// Client learning rate (Flower's `eta_l`); sent with the task, unused by aggregation.
    public var etaL: Double { core.etaL }
    /// First-moment decay β₁.
    public var beta1: Double { core.beta1 }
    /// Second-moment decay β₂.
    public var beta2: Double { core.beta2 }
    /// Adaptivity τ, added to √v.
    public var tau: Double { core.tau }
    /// The round being aggregated, from 1.
    public var round: Int { core.round }
    /// Updates added since `beginRound`.
    public var updateCount: Int { core.updateCount }

    /// Starts a round from `global`.
    public mutating func beginRound(global: [Float]) throws(FederationError) { core.beginRound(global: global) }
    /// Adds `update` to the round's weighted sum.
    public mutating func add(_ update: ClientUpdate) throws(FederationError) { try core.add(update) }
    /// The global moved by one optimiser step on the weighted mean delta.
    public mutating func finishRound() throws(FederationError) -> [Float] { try core.finishRound() }
    /// Settings, round, moments and the open round's partial sum.
    public func snapshot() -> [UInt8] { core.snapshot() }
    /// Restores a snapshot of a FedYogi with the same settings.
    public mutating func restore(_ snapshot: [UInt8]) throws(FederationError) { try core.restore(snapshot) }
}
