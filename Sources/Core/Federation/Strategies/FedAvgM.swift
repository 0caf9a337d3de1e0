/// FedAvg with server momentum (Hsu et al., 2019), Flower's `FedAvgM`: the negated weighted mean
/// delta is a pseudo-gradient that the server applies with learning rate `serverLearningRate`
/// and heavy-ball momentum `serverMomentum`. With the defaults (1, 0) it is FedAvg.
public struct FedAvgM: AggregationStrategy {
    /// "fedavgm".
    public var name: String { "fedavgm" }
    /// η, Flower's `server_learning_rate` (default 1).
    public let serverLearningRate: Double
    /// μ, Flower's `server_momentum` (default 0).
    public let serverMomentum: Double
    /// The round being aggregated, from 1.
    public private(set) var round = 1
    private var momentum: [Float] = []
    private var open = StreamingRound()

    /// A FedAvgM aggregator; η > 0 and μ in [0, 1).
    public init(serverLearningRate: Double = 1, serverMomentum: Double = 0) throws(FederationError) {
        guard serverLearningRate > 0, serverLearningRate.isFinite else {
            throw FederationError(.invalidArgument, "server_learning_rate must be > 0, got \(serverLearningRate)")
        }
        guard serverMomentum >= 0, serverMomentum < 1 else {
            throw FederationError(.invalidArgument, "server_momentum must be in [0, 1), got \(serverMomentum)")
        }
        self.serverLearningRate = serverLearningRate
        self.serverMomentum = serverMomentum
    }

    /// Updates added since `beginRound`.
    public var updateCount: Int { open.count }

    /// Starts a round from `global`.
    public mutating func beginRound(global: [Float]) throws(FederationError) { open.begin(global) }
    /// Adds `update` weighted by its example count.
    public mutating func add(_ update: ClientUpdate) throws(FederationError) { try open.add(update) }

    /// global − η·m, where m is the momentum of the pseudo-gradients −Δ̄.
    public mutating func finishRound() throws(FederationError) -> [Float] {
        var (global, mean) = try open.finish()
        AggregationMath.momentumStep(
            global: &global, mean: mean, momentum: &momentum, firstRound: round == 1 || momentum.count != global.count,
            learningRate: serverLearningRate, momentum: serverMomentum)
        round += 1
        return global
    }

    /// Settings, round, momentum and the open round's partial sum.
    public func snapshot() -> [UInt8] {
        var w = SnapshotWriter(name: name)
        w.double(serverLearningRate)
        w.double(serverMomentum)
        w.int(round)
        w.floats(momentum)
        open.write(to: &w)
        return w.bytes
    }

    /// Restores a snapshot of a FedAvgM with the same settings.
    public mutating func restore(_ snapshot: [UInt8]) throws(FederationError) {
        var r = try SnapshotReader(snapshot, name: name)
        try r.expect(serverLearningRate, "server_learning_rate")
        try r.expect(serverMomentum, "server_momentum")
        let round = try r.int()
        let momentum = try r.floats()
        let open = try StreamingRound.read(from: &r)
        try r.finish()
        (self.round, self.momentum, self.open) = (round, momentum, open)
    }
}
