/// Coordinate-wise median (Yin et al., 2018), Flower's `FedMedian`: each parameter of the new
/// global is the global plus the median of the clients' deltas for it. Unweighted, robust to a
/// minority of outliers per coordinate. Keeps the round's updates.
public struct FedMedian: AggregationStrategy {
    /// "fedmedian".
    public var name: String { "fedmedian" }
    /// The round being aggregated, from 1.
    public private(set) var round = 1
    private var open = KeptRound()
    /// The direction check and mixing before the rule (`RobustPreparation`).
    private var preparation: RobustPreparation
    /// Nearest-neighbour mixing before the rule, against this many malicious clients (0: off;
    /// a Starling extension, not in Flower): see `AggregationMath.nearestNeighbourMixing`.
    public var mixing: Int { preparation.mixing }

    /// A FedMedian aggregator, with nearest-neighbour mixing against `mixing` malicious clients
    /// and, with `direction`, the direction check (`DirectionCheck`) at that minimum cosine.
    public init(mixing: Int = 0, direction: Double? = nil) throws(FederationError) {
        preparation = try RobustPreparation(mixing: mixing, direction: direction)
    }

    /// Updates added since `beginRound`.
    public var updateCount: Int { open.count }
    /// Starts a round from `global`.
    public mutating func beginRound(global: [Float]) throws(FederationError) { open.begin(global) }
    /// Keeps `update` for the round.
    public mutating func add(_ update: ClientUpdate) throws(FederationError) { try open.add(update) }

    /// The global plus the coordinate-wise median delta.
    public mutating func finishRound() throws(FederationError) -> [Float] {
        let (global, updates) = try open.finish()
        round += 1
        let step = AggregationMath.coordinateMedian(preparation.prepare(updates).deltas)
        preparation.record(step: step)
        return adding(step, to: global)
    }

    /// The round counter and the open round's updates.
    public func snapshot() -> [UInt8] {
        var w = SnapshotWriter(name: name)
        w.int(round)
        open.write(to: &w)
        preparation.write(to: &w)
        return w.bytes
    }

    /// Restores a snapshot of a FedMedian.
    public mutating func restore(_ snapshot: [UInt8]) throws(FederationError) {
        var r = try SnapshotReader(snapshot, name: name)
        let round = try r.int()
        let open = try KeptRound.read(from: &r)
        var preparation = preparation
        try preparation.read(from: &r)
        try r.finish()
        (self.round, self.open, self.preparation) = (round, open, preparation)
    }
}

/// `global + delta`, element-wise.
func adding(_ delta: [Float], to global: [Float]) -> [Float] {
    var out = global
    for i in 0..<out.count { out[i] += delta[i] }
    return out
}
