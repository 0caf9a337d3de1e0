/// The open round of a linear strategy: the global the clients started from and the running
/// weighted sum of their deltas. Nothing per client is kept.
struct StreamingRound: Sendable {
    private(set) var global: [Float] = []
    private(set) var sum = WeightedSum(parameters: 0)
    private(set) var isOpen = false

    var count: Int { isOpen ? sum.count : 0 }

    mutating func begin(_ global: [Float]) {
        self.global = global
        sum = WeightedSum(parameters: global.count)
        isOpen = true
    }

    mutating func add(_ update: ClientUpdate) throws(FederationError) {
        guard isOpen else { throw FederationError(.invalidArgument, "no round is open; call beginRound first") }
        try AggregationMath.validate(update, parameters: global.count)
        sum.add(update.delta, weight: Double(update.examples))
    }

    /// Ends the round: the global it started from and the weighted mean delta.
    mutating func finish() throws(FederationError) -> (global: [Float], mean: [Double]) {
        guard isOpen else { throw FederationError(.notEnoughUpdates, "no round is open") }
        guard let mean = sum.mean() else { throw FederationError(.notEnoughUpdates, "no updates to aggregate") }
        let global = self.global
        self.global = []
        sum = WeightedSum(parameters: 0)
        isOpen = false
        return (global, mean)
    }

    func write(to writer: inout SnapshotWriter) {
        writer.bool(isOpen)
        guard isOpen else { return }
        writer.floats(global)
        sum.write(to: &writer)
    }

    static func read(from reader: inout SnapshotReader) throws(FederationError) -> StreamingRound {
        var round = StreamingRound()
        guard try reader.bool() else { return round }
        round.global = try reader.floats()
        round.sum = try WeightedSum.read(from: &reader)
        guard round.sum.parameters == round.global.count else {
            throw FederationError(.malformed, "strategy snapshot: the partial sum and the global differ in length")
        }
        round.isOpen = true
        return round
    }
}

/// The open round of a robust strategy, which needs every update at once: the global and the
/// updates received so far.
struct KeptRound: Sendable {
    private(set) var global: [Float] = []
    private(set) var updates: [ClientUpdate] = []
    private(set) var isOpen = false

    var count: Int { updates.count }

    mutating func begin(_ global: [Float]) {
        self.global = global
        updates = []
        isOpen = true
    }

    mutating func add(_ update: ClientUpdate) throws(FederationError) {
        guard isOpen else { throw FederationError(.invalidArgument, "no round is open; call beginRound first") }
        try AggregationMath.validate(update, parameters: global.count)
        updates.append(update)
    }

    /// Ends the round: the global it started from and the updates.
    mutating func finish(minimum: Int = 1) throws(FederationError) -> (global: [Float], updates: [ClientUpdate]) {
        guard isOpen else { throw FederationError(.notEnoughUpdates, "no round is open") }
        guard updates.count >= max(1, minimum) else {
            throw FederationError(.notEnoughUpdates, "\(updates.count) updates; this strategy needs at least \(max(1, minimum))")
        }
        defer {
            global = []
            updates = []
            isOpen = false
        }
        return (global, updates)
    }

    func write(to writer: inout SnapshotWriter) {
        writer.bool(isOpen)
        guard isOpen else { return }
        writer.floats(global)
        writer.int(updates.count)
        for u in updates {
            writer.string(u.client)
            writer.int(u.examples)
            writer.floats(u.delta)
        }
    }

    static func read(from reader: inout SnapshotReader) throws(FederationError) -> KeptRound {
        var round = KeptRound()
        guard try reader.bool() else { return round }
        round.global = try reader.floats()
        let n = try reader.count(elementSize: 17)
        for _ in 0..<n {
            let client = try reader.string()
            let examples = try reader.int()
            let delta = try reader.floats()
            guard delta.count == round.global.count else {
                throw FederationError(.malformed, "strategy snapshot: a kept update and the global differ in length")
            }
            round.updates.append(ClientUpdate(client: client, delta: delta, examples: examples))
        }
        round.isOpen = true
        return round
    }
}
