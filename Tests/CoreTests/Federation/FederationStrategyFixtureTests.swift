import Core
import Testing

/// Each strategy against Flower 1.42's `aggregate_fit` on the same inputs (3 rounds for the
/// stateful ones), within 1e-5 relative (+1e-6 absolute: Flower sums float32 weights, Starling
/// Double deltas).
@Suite struct FederationStrategyFixtureTests {
    static let names = [
        "fedavg", "fedprox", "fedavgm", "fedadam", "fedyogi", "fedadagrad", "fedmedian", "fedtrimmedavg", "krum", "multikrum",
    ]

    @Test(arguments: names) func matchesFlower(_ name: String) throws {
        let fixture = try StrategyFixture.load(name)
        #expect(fixture.flower == "1.42.0")
        var strategy = try fixture.configuration().makeStrategy()
        #expect(strategy.name == name)
        let results = try replay(fixture.rounds, &strategy)
        for (round, result) in zip(fixture.rounds, results) {
            let worst = worstError(result, round.result)
            #expect(worst <= 1, "\(name) round \(round.round): off by \(worst)× the tolerance")
        }
    }

    /// The robust fixtures hold an outlier; the robust strategies must not follow it.
    @Test(arguments: ["fedmedian", "fedtrimmedavg", "krum", "multikrum"]) func ignoresTheOutlier(_ name: String) throws {
        let fixture = try StrategyFixture.load(name)
        var robust = try fixture.configuration().makeStrategy()
        var mean: any AggregationStrategy = FedAvg()
        let round = [fixture.rounds[0]]
        let r = try replay(round, &robust)[0], m = try replay(round, &mean)[0]
        let g = round[0].global
        let moveRobust = zip(r, g).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +)
        let moveMean = zip(m, g).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +)
        #expect(moveRobust * 10 < moveMean, "\(name) moved \(moveRobust), FedAvg \(moveMean)")
    }

    /// Streaming strategies give the same mean whatever the arrival order (up to rounding).
    @Test func fedAvgIsOrderIndependent() throws {
        let updates = randomUpdates(count: 9, parameters: 50, seed: 4)
        let global = [Float](repeating: 0.5, count: 50)
        var forward = FedAvg(), backward = FedAvg()
        try forward.beginRound(global: global)
        try backward.beginRound(global: global)
        for u in updates { try forward.add(u) }
        for u in updates.reversed() { try backward.add(u) }
        let a = try forward.finishRound(), b = try backward.finishRound()
        #expect(worstError(a, b.map(Double.init), rtol: 1e-6, atol: 1e-7) <= 1)
        #expect(forward.round == 2)
    }
}
