/// Coordinate-wise trimmed mean (Yin et al., 2018), Flower's `FedTrimmedAvg`: per parameter,
/// the ⌊beta·n⌋ smallest and as many largest deltas are dropped and the rest averaged,
/// unweighted. Keeps the round's updates.
public struct FedTrimmedAvg: AggregationStrategy {
    /// "fedtrimmedavg".
    public var name: String { "fedtrimmedavg" }
    /// Fraction cut from each end, Flower's `beta` (default 0.2), in [0, 0.5).
    public let beta: Double
    /// The round being aggregated, from 1.
    public private(set) var round = 1
    private var open = KeptRound()
    /// The direction check and mixing before the rule (`RobustPreparation`).
    private var preparation: RobustPreparation
    /// Nearest-neighbour mixing before the rule, against this many malicious clients (0: off;
    /// a Starling extension, not in Flower): see `AggregationMath.nearestNeighbourMixing`.
    public var mixing: Int { preparation.mixing }

    /// A trimmed-mean aggregator, with nearest-neighbour mixing against `mixing` malicious clients
    /// and, with `direction`, the direction check (`DirectionCheck`) at that minimum cosine.
    public init(beta: Double = 0.2, mixing: Int = 0, direction: Double? = nil) throws(FederationError) {
        guard beta >= 0, beta < 0.5 else { throw FederationError(.invalidArgument, "beta must be in [0, 0.5), got \(beta)") }
        self.beta = beta
        preparation = try RobustPreparation(mixing: mixing, direction: direction)
    }

    /// Updates added since `beginRound`.
    public var updateCount: Int { open.count }
    /// Starts a round from `global`.
    public mutating func beginRound(global: [Float]) throws(FederationError) { open.begin(global) }
    /// Keeps `update` for the round.
    public mutating func add(_ update: ClientUpdate) throws(FederationError) { try open.add(update) }

    /// The global plus the trimmed mean delta.
    public mutating func finishRound() throws(FederationError) -> [Float] {
        let (global, updates) = try open.finish()
        round += 1
        let step = AggregationMath.trimmedMean(preparation.prepare(updates).deltas, beta: beta)
        preparation.record(step: step)
        return adding(step, to: global)
    }

    /// `beta`, the round counter and the open round's updates.
    public func snapshot() -> [UInt8] {
        var w = SnapshotWriter(name: name)
        w.double(beta)
        w.int(round)
        open.write(to: &w)
        preparation.write(to: &w)
        return w.bytes
    }

    /// Restores a snapshot of a FedTrimmedAvg with the same `beta`.
    public mutating func restore(_ snapshot: [UInt8]) throws(FederationError) {
        var r = try SnapshotReader(snapshot, name: name)
        try r.expect(beta, "beta")
        let round = try r.int()
        let open = try KeptRound.read(from: &r)
        var preparation = preparation
        try preparation.read(from: &r)
        try r.finish()
        (self.round, self.open, self.preparation) = (round, open, preparation)
    }
}
