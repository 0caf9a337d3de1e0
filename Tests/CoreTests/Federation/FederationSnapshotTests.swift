import Core
import Foundation
import Testing

/// A restarted hub resumes where it was: snapshot, restore into a fresh strategy of the same
/// configuration, continue — and every result equals the uninterrupted run's, bit for bit.
@Suite struct FederationSnapshotTests {
    static let configurations: [String] = [
        #"{"name":"fedavg"}"#,
        #"{"name":"fedprox","proximal_mu":0.01}"#,
        #"{"name":"fedavgm","server_learning_rate":0.5,"server_momentum":0.9}"#,
        #"{"name":"fedadam"}"#,
        #"{"name":"fedyogi","eta":0.05}"#,
        #"{"name":"fedadagrad"}"#,
        #"{"name":"fedmedian"}"#,
        #"{"name":"fedtrimmedavg","beta":0.25}"#,
        #"{"name":"krum","num_malicious_clients":1}"#,
        #"{"name":"multikrum","num_malicious_clients":1,"num_clients_to_keep":3}"#,
        #"{"name":"fedmedian","mixing":1,"direction":-0.05}"#,
        #"{"name":"fedtrimmedavg","mixing":2,"direction":-0.05}"#,
        #"{"name":"krum","num_malicious_clients":1,"mixing":1,"direction":-0.05}"#,
        #"{"name":"multikrum","num_malicious_clients":1,"num_clients_to_keep":3,"direction":-0.05}"#,
        #"{"name":"fedadam","privacy":{"clipping":"fixed","noise_multiplier":0.8,"clipping_norm":0.3,"num_sampled_clients":6,"seed":11}}"#,
        #"{"name":"fedavg","privacy":{"clipping":"adaptive","noise_multiplier":0.5,"num_sampled_clients":6,"seed":12}}"#,
    ]

    static func make(_ json: String) throws -> any AggregationStrategy {
        try JSONDecoder().decode(StrategyConfiguration.self, from: Data(json.utf8)).makeStrategy()
    }

    static let rounds = (0..<3).map { randomUpdates(count: 6, parameters: 40, seed: 100 + UInt64($0)) }
    static let initial: [Float] = (0..<40).map { Float($0) / 40 }

    /// Runs three rounds; `restartAt(round, added)` says when to snapshot and restore (added = -1:
    /// right after beginRound's snapshot is not taken, so -1 means between rounds).
    static func run(_ json: String, restartAt: (Int, Int)?) throws -> [[Float]] {
        var strategy = try make(json)
        var global = initial
        var results: [[Float]] = []
        func restart() throws {
            let bytes = strategy.snapshot()
            var fresh = try make(json)
            try fresh.restore(bytes)
            strategy = fresh
        }
        for (r, updates) in rounds.enumerated() {
            if restartAt.map({ $0 == (r, -1) }) == true { try restart() }
            try strategy.beginRound(global: global)
            for (k, u) in updates.enumerated() {
                if restartAt.map({ $0 == (r, k) }) == true { try restart() }
                try strategy.add(u)
            }
            global = try strategy.finishRound()
            results.append(global)
        }
        return results
    }

    @Test(arguments: configurations) func resumesBitForBit(_ json: String) throws {
        let straight = try Self.run(json, restartAt: nil)
        for point in [(0, 0), (0, 3), (1, -1), (1, 5), (2, 2)] {
            let resumed = try Self.run(json, restartAt: point)
            let same = zip(straight, resumed).allSatisfy { a, b in a.map(\.bitPattern) == b.map(\.bitPattern) }
            #expect(same, "\(json): restarting at round \(point.0), update \(point.1) changed the result")
        }
        // The run must depend on its inputs, or the comparison above proves nothing.
        #expect(straight[0] != Self.initial && straight[1] != straight[2])
    }

    /// Streaming sums fold a Float block into Double every `WeightedSum.blockSize` updates; a
    /// restart inside a block must fold at the same update as an uninterrupted run.
    @Test func resumesInsideAFloatBlock() throws {
        let updates = randomUpdates(count: 2 * WeightedSum.blockSize + 5, parameters: 200, seed: 7)
        let global = [Float](repeating: 0.25, count: 200)
        var straight = FedAvg()
        try straight.beginRound(global: global)
        for u in updates { try straight.add(u) }
        let expected = try straight.finishRound()
        var first = FedAvg()
        try first.beginRound(global: global)
        for u in updates.prefix(WeightedSum.blockSize / 2 + 3) { try first.add(u) }
        var resumed = FedAvg()
        try resumed.restore(first.snapshot())
        for u in updates.dropFirst(WeightedSum.blockSize / 2 + 3) { try resumed.add(u) }
        #expect(try resumed.finishRound().map(\.bitPattern) == expected.map(\.bitPattern))
    }

    @Test func refusesAnotherStrategysSnapshot() throws {
        let adam = try Self.make(#"{"name":"fedadam"}"#)
        var yogi = try Self.make(#"{"name":"fedyogi"}"#)
        #expect(throws: FederationError.self) { try yogi.restore(adam.snapshot()) }
        var otherEta = try Self.make(#"{"name":"fedadam","eta":0.2}"#)
        let error = #expect(throws: FederationError.self) { try otherEta.restore(adam.snapshot()) }
        #expect(error?.code == .invalidArgument && error?.message.contains("eta") == true)
    }

    @Test func refusesTruncatedOrPaddedSnapshots() throws {
        var strategy = try Self.make(#"{"name":"fedmedian"}"#)
        try strategy.beginRound(global: Self.initial)
        for u in Self.rounds[0] { try strategy.add(u) }
        let bytes = strategy.snapshot()
        for cut in [0, 3, 10, bytes.count / 2, bytes.count - 1] {
            var fresh = try Self.make(#"{"name":"fedmedian"}"#)
            let error = #expect(throws: FederationError.self) { try fresh.restore(Array(bytes.prefix(cut))) }
            #expect(error?.code == .malformed)
        }
        var fresh = try Self.make(#"{"name":"fedmedian"}"#)
        #expect(throws: FederationError.self) { try fresh.restore(bytes + [0]) }
    }

    /// A streaming strategy's snapshot stays O(parameters) however many updates the round holds.
    @Test func streamingSnapshotDoesNotGrowWithClients() throws {
        var strategy = try Self.make(#"{"name":"fedadam"}"#)
        try strategy.beginRound(global: Self.initial)
        try strategy.add(Self.rounds[0][0])
        let one = strategy.snapshot().count
        for u in Self.rounds[1] + Self.rounds[2] { try strategy.add(u) }
        #expect(strategy.snapshot().count == one)
        #expect(strategy.updateCount == 13)
    }
}
