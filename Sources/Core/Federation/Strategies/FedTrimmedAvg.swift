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
    /// The direction check before the rule (nil: off); see `DirectionCheck`.
    private var direction: DirectionCheck?
    /// Nearest-neighbour mixing before the rule, against this many malicious clients (0: off;
    /// a Starling extension, not in Flower): see `AggregationMath.nearestNeighbourMixing`.
    public let mixing: Int

    /// A trimmed-mean aggregator, with nearest-neighbour mixing against `mixing` malicious clients
    /// and, with `direction`, the direction check (`DirectionCheck`) at that minimum cosine.
    public init(beta: Double = 0.2, mixing: Int = 0, direction: Double? = nil) throws(FederationError) {
        self.direction = try direction.map { (value: Double) throws(FederationError) in try DirectionCheck(minimumCosine: value) }
        guard beta >= 0, beta < 0.5 else { throw FederationError(.invalidArgument, "beta must be in [0, 0.5), got \(beta)") }
        self.beta = beta
        guard mixing >= 0 else { throw FederationError(.invalidArgument, "mixing must be ≥ 0, got \(mixing)") }
        self.mixing = mixing
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
        let kept = direction?.filter(updates) ?? updates
        let step = AggregationMath.trimmedMean(AggregationMath.mixed(kept.map(\.delta), malicious: mixing), beta: beta)
        direction?.record(step: step)
        return adding(step, to: global)
    }

    /// `beta`, the round counter and the open round's updates.
    public func snapshot() -> [UInt8] {
        var w = SnapshotWriter(name: name)
        w.double(beta)
        w.int(round)
        open.write(to: &w)
        direction?.write(to: &w)
        return w.bytes
    }

    /// Restores a snapshot of a FedTrimmedAvg with the same `beta`.
    public mutating func restore(_ snapshot: [UInt8]) throws(FederationError) {
        var r = try SnapshotReader(snapshot, name: name)
        try r.expect(beta, "beta")
        let round = try r.int()
        let open = try KeptRound.read(from: &r)
        var direction = direction
        try direction?.read(from: &r)
        try r.finish()
        (self.round, self.open, self.direction) = (round, open, direction)
    }
}
