/// Federated averaging (McMahan et al., 2017): the new global is the global plus the
/// example-weighted mean of the deltas. Updates are folded into a running sum as they arrive, so
/// memory is O(parameters) whatever the number of clients.
public struct FedAvg: AggregationStrategy {
    /// "fedavg".
    public var name: String { "fedavg" }
    /// The round being aggregated, from 1 (advanced by `finishRound`).
    public private(set) var round = 1
    private var open = StreamingRound()

    /// A FedAvg aggregator.
    public init() {}

    /// Updates added since `beginRound`.
    public var updateCount: Int { open.count }

    /// Starts a round from `global`.
    public mutating func beginRound(global: [Float]) throws(FederationError) { open.begin(global) }

    /// Adds `update` weighted by its example count.
    public mutating func add(_ update: ClientUpdate) throws(FederationError) { try open.add(update) }

    /// The global plus the weighted mean delta.
    public mutating func finishRound() throws(FederationError) -> [Float] {
        let (global, mean) = try open.finish()
        round += 1
        var out = global
        for i in 0..<out.count { out[i] = Float(Double(out[i]) + mean[i]) }
        return out
    }

    /// The round counter and the open round's partial sum.
    public func snapshot() -> [UInt8] {
        var w = SnapshotWriter(name: name)
        w.int(round)
        open.write(to: &w)
        return w.bytes
    }

    /// Restores a snapshot of a FedAvg.
    public mutating func restore(_ snapshot: [UInt8]) throws(FederationError) {
        var r = try SnapshotReader(snapshot, name: name)
        let round = try r.int()
        let open = try StreamingRound.read(from: &r)
        try r.finish()
        (self.round, self.open) = (round, open)
    }
}
