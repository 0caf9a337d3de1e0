/// Krum and Multi-Krum (Blanchard et al., 2017), Flower's `Krum`: each update is scored by the
/// sum of squared distances to its n − f − 2 nearest others; Krum returns the global plus the
/// best-scored delta, Multi-Krum (`numClientsToKeep` > 0) the example-weighted mean of the
/// `numClientsToKeep` best. Keeps the round's updates.
public struct Krum: AggregationStrategy {
    /// "krum", or "multikrum" when more than one update is kept.
    public var name: String { numClientsToKeep > 0 ? "multikrum" : "krum" }
    /// f, the number of malicious clients to tolerate (Flower's `num_malicious_clients`).
    public let numMaliciousClients: Int
    /// Updates averaged by Multi-Krum; 0 is plain Krum (Flower's `num_clients_to_keep`).
    public let numClientsToKeep: Int
    /// The round being aggregated, from 1.
    public private(set) var round = 1
    private var open = KeptRound()
    /// The direction check and mixing before the rule (`RobustPreparation`).
    private var preparation: RobustPreparation
    /// Nearest-neighbour mixing before the rule, against this many malicious clients (0: off;
    /// a Starling extension, not in Flower): see `AggregationMath.nearestNeighbourMixing`.
    public var mixing: Int { preparation.mixing }

    /// A Krum (`numClientsToKeep` = 0) or Multi-Krum aggregator, with nearest-neighbour mixing
    /// against `mixing` malicious clients (Multi-Krum then averages the kept mixed deltas) and,
    /// with `direction`, the direction check (`DirectionCheck`) at that minimum cosine.
    public init(
        numMaliciousClients: Int = 0, numClientsToKeep: Int = 0, mixing: Int = 0, direction: Double? = nil
    ) throws(FederationError) {
        guard numMaliciousClients >= 0 else {
            throw FederationError(.invalidArgument, "num_malicious_clients must be ≥ 0, got \(numMaliciousClients)")
        }
        guard numClientsToKeep >= 0 else {
            throw FederationError(.invalidArgument, "num_clients_to_keep must be ≥ 0, got \(numClientsToKeep)")
        }
        self.numMaliciousClients = numMaliciousClients
        self.numClientsToKeep = numClientsToKeep
        preparation = try RobustPreparation(mixing: mixing, direction: direction)
    }

    /// Updates added since `beginRound`.
    public var updateCount: Int { open.count }
    /// Starts a round from `global`.
    public mutating func beginRound(global: [Float]) throws(FederationError) { open.begin(global) }
    /// Keeps `update` for the round.
    public mutating func add(_ update: ClientUpdate) throws(FederationError) { try open.add(update) }

    /// The global plus the selected delta (Krum) or the weighted mean of the kept ones.
    public mutating func finishRound() throws(FederationError) -> [Float] {
        let (global, all) = try open.finish(minimum: numClientsToKeep)
        round += 1
        let (updates, deltas) = preparation.prepare(all)
        let scores = AggregationMath.krumScores(
            distances: AggregationMath.squaredDistances(deltas), malicious: numMaliciousClients)
        let chosen = AggregationMath.krumSelection(scores: scores, keep: numClientsToKeep)
        if numClientsToKeep == 0 {
            preparation.record(step: deltas[chosen[0]])
            return adding(deltas[chosen[0]], to: global)
        }
        let mean = AggregationMath.weightedMean(chosen.map { deltas[$0] }, weights: chosen.map { Double(updates[$0].examples) })
        var out = global
        for i in 0..<out.count { out[i] = Float(Double(out[i]) + mean[i]) }
        preparation.record(step: mean.map(Float.init))
        return out
    }

    /// Settings, the round counter and the open round's updates.
    public func snapshot() -> [UInt8] {
        var w = SnapshotWriter(name: name)
        w.int(numMaliciousClients)
        w.int(numClientsToKeep)
        w.int(round)
        open.write(to: &w)
        preparation.write(to: &w)
        return w.bytes
    }

    /// Restores a snapshot of a Krum with the same settings.
    public mutating func restore(_ snapshot: [UInt8]) throws(FederationError) {
        var r = try SnapshotReader(snapshot, name: name)
        let f = try r.int(), keep = try r.int()
        guard f == numMaliciousClients, keep == numClientsToKeep else {
            throw FederationError(
                .invalidArgument,
                "the snapshot was taken with num_malicious_clients = \(f), num_clients_to_keep = \(keep); this strategy has \(numMaliciousClients), \(numClientsToKeep)"
            )
        }
        let round = try r.int()
        let open = try KeptRound.read(from: &r)
        var preparation = preparation
        try preparation.read(from: &r)
        try r.finish()
        (self.round, self.open, self.preparation) = (round, open, preparation)
    }
}
