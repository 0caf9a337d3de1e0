/// FedProx (Li et al., 2020) on the server: FedAvg's aggregation. The proximal term
/// μ/2·‖w − w_global‖² is added by the clients during training; the server only carries `mu` to
/// put into the round's task.
public struct FedProx: AggregationStrategy {
    /// "fedprox".
    public var name: String { "fedprox" }
    /// Weight of the clients' proximal term (Flower's `proximal_mu`), sent with each task.
    public let mu: Double
    private var inner = FedAvg()

    /// A FedProx aggregator; `mu` must be non-negative.
    public init(mu: Double) throws(FederationError) {
        guard mu >= 0, mu.isFinite else { throw FederationError(.invalidArgument, "proximal_mu must be ≥ 0, got \(mu)") }
        self.mu = mu
    }

    /// The round being aggregated, from 1.
    public var round: Int { inner.round }
    /// Updates added since `beginRound`.
    public var updateCount: Int { inner.updateCount }

    /// Starts a round from `global`.
    public mutating func beginRound(global: [Float]) throws(FederationError) { try inner.beginRound(global: global) }
    /// Adds `update` weighted by its example count.
    public mutating func add(_ update: ClientUpdate) throws(FederationError) { try inner.add(update) }
    /// The global plus the weighted mean delta.
    public mutating func finishRound() throws(FederationError) -> [Float] { try inner.finishRound() }

    /// `mu`, then FedAvg's state.
    public func snapshot() -> [UInt8] {
        var w = SnapshotWriter(name: name)
        w.double(mu)
        w.blob(inner.snapshot())
        return w.bytes
    }

    /// Restores a snapshot of a FedProx with the same `mu`.
    public mutating func restore(_ snapshot: [UInt8]) throws(FederationError) {
        var r = try SnapshotReader(snapshot, name: name)
        try r.expect(mu, "proximal_mu")
        let innerBytes = try r.blob()
        try r.finish()
        try inner.restore(innerBytes)
    }
}
