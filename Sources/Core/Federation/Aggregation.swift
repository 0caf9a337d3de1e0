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

/// Federated averaging (McMahan et al., 2017): the new global is the global plus the
/// example-weighted mean of the deltas. Updates are folded into a running sum as they arrive, so
/// memory is O(parameters) whatever the number of clients. Server-side FedProx is the same
/// aggregation (the proximal term lives in the clients' training).
public struct FedAvg: AggregationStrategy {
    /// "fedavg".
    public var name: String { "fedavg" }
    private var global: [Float] = []
    private var sum: [Double] = []
    private var totalExamples = 0
    /// Updates added since `beginRound`.
    public private(set) var updateCount = 0

    /// A FedAvg aggregator.
    public init() {}

    /// Starts a round from `global`.
    public mutating func beginRound(global: [Float]) throws(FederationError) {
        self.global = global
        sum = [Double](repeating: 0, count: global.count)
        totalExamples = 0
        updateCount = 0
    }

    /// Adds `update` weighted by its example count.
    public mutating func add(_ update: ClientUpdate) throws(FederationError) {
        guard update.delta.count == global.count else {
            throw FederationError(
                .shapeMismatch, "update from \(update.client) has \(update.delta.count) values; the model has \(global.count)")
        }
        guard update.examples > 0 else {
            throw FederationError(.invalidArgument, "update from \(update.client) reports \(update.examples) examples")
        }
        let w = Double(update.examples)
        update.delta.withUnsafeBufferPointer { d in
            sum.withUnsafeMutableBufferPointer { s in
                for i in 0..<s.count { s[i] += w * Double(d[i]) }
            }
        }
        totalExamples += update.examples
        updateCount += 1
    }

    /// The global plus the weighted mean delta.
    public mutating func finishRound() throws(FederationError) -> [Float] {
        guard totalExamples > 0 else { throw FederationError(.notEnoughUpdates, "no updates to aggregate") }
        let scale = 1 / Double(totalExamples)
        var out = global
        for i in 0..<out.count { out[i] += Float(sum[i] * scale) }
        global = out
        updateCount = 0
        totalExamples = 0
        return out
    }

    /// Not yet persisted beyond the global; see the strategy module for the binary snapshot.
    public func snapshot() -> [UInt8] { [] }

    /// Restores nothing yet.
    public mutating func restore(_ snapshot: [UInt8]) throws(FederationError) {}
}
