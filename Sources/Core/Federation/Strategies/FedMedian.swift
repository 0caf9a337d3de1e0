/// Coordinate-wise median (Yin et al., 2018), Flower's `FedMedian`: each parameter of the new
/// global is the global plus the median of the clients' deltas for it. Unweighted, robust to a
/// minority of outliers per coordinate. Keeps the round's updates.
public struct FedMedian: AggregationStrategy {
    /// "fedmedian".
    public var name: String { "fedmedian" }
    /// The round being aggregated, from 1.
    public private(set) var round = 1
    private var open = KeptRound()
    /// The direction check before the rule (nil: off); see `DirectionCheck`.
    private var direction: DirectionCheck?
    /// Nearest-neighbour mixing before the rule, against this many malicious clients (0: off;
    /// a Starling extension, not in Flower): see `AggregationMath.nearestNeighbourMixing`.
    public let mixing: Int

    /// A FedMedian aggregator, with nearest-neighbour mixing against `mixing` malicious clients
    /// and, with `direction`, the direction check (`DirectionCheck`) at that minimum cosine.
    public init(mixing: Int = 0, direction: Double? = nil) throws(FederationError) {
        self.direction = try direction.map { (value: Double) throws(FederationError) in try DirectionCheck(minimumCosine: value) }
        guard mixing >= 0 else { throw FederationError(.invalidArgument, "mixing must be ≥ 0, got \(mixing)") }
        self.mixing = mixing
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
        let kept = direction?.filter(updates) ?? updates
        let step = AggregationMath.coordinateMedian(AggregationMath.mixed(kept.map(\.delta), malicious: mixing))
        direction?.record(step: step)
        return adding(step, to: global)
    }

    /// The round counter and the open round's updates.
    public func snapshot() -> [UInt8] {
        var w = SnapshotWriter(name: name)
        w.int(round)
        open.write(to: &w)
        direction?.write(to: &w)
        return w.bytes
    }

    /// Restores a snapshot of a FedMedian.
    public mutating func restore(_ snapshot: [UInt8]) throws(FederationError) {
        var r = try SnapshotReader(snapshot, name: name)
        let round = try r.int()
        let open = try KeptRound.read(from: &r)
        var direction = direction
        try direction?.read(from: &r)
        try r.finish()
        (self.round, self.open, self.direction) = (round, open, direction)
    }
}

/// `global + delta`, element-wise.
func adding(_ delta: [Float], to global: [Float]) -> [Float] {
    var out = global
    for i in 0..<out.count { out[i] += delta[i] }
    return out
}
