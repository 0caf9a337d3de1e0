/// One client's contribution to a round: what its training changed, and how much data it saw.
public struct ClientUpdate: Sendable, Equatable {
    /// Who sent it (a device id, or a simulated client's name).
    public var client: String
    /// Trained parameters minus the global parameters the client started from, in layout order.
    public var delta: [Float]
    /// Training examples used (FedAvg's weight).
    public var examples: Int

    /// An update.
    public init(client: String, delta: [Float], examples: Int) {
        self.client = client
        self.delta = delta
        self.examples = examples
    }
}

/// A server-side aggregation strategy. A round is `beginRound`, any number of `add`, then
/// `finishRound`, which returns the new global parameters. Strategies keep their state between
/// rounds (server momentum, adaptive moments) and can snapshot it (with the round's partial
/// aggregate) so a restarted hub resumes where it was.
///
/// Updates are deltas (trained − global). Flower's strategies average trained weights; for a
/// common starting point the two agree: mean(wᵢ) = w + mean(Δᵢ), and the same holds for the
/// coordinate median, trimmed mean and Krum's distances.
public protocol AggregationStrategy: Sendable {
    /// The strategy's name as the CLI and lineage write it (`fedavg`, `fedadam`, ...).
    var name: String { get }
    /// Starts a round from `global` (the parameters the clients were sent).
    mutating func beginRound(global: [Float]) throws(FederationError)
    /// Adds one update; throws if it cannot be used (wrong length, for example).
    mutating func add(_ update: ClientUpdate) throws(FederationError)
    /// Updates added since `beginRound`.
    var updateCount: Int { get }
    /// The new global parameters; ends the round.
    mutating func finishRound() throws(FederationError) -> [Float]
    /// The strategy's whole state, including the open round's partial aggregate, as bytes.
    func snapshot() -> [UInt8]
    /// Restores a snapshot taken by a strategy of the same configuration.
    mutating func restore(_ snapshot: [UInt8]) throws(FederationError)
}
