import Core
import Testing

/// The pure aggregation functions on hand-checked inputs, and the refusals every strategy shares.
@Suite struct FederationMathTests {
    @Test func medianOfOddAndEvenCounts() {
        #expect(AggregationMath.coordinateMedian([[1, 10], [3, -2], [2, 5]]) == [2, 5])
        #expect(AggregationMath.coordinateMedian([[1, 10], [3, -2], [2, 5], [100, 0]]) == [2.5, 2.5])
    }

    @Test func trimmedMeanDropsBothEnds() {
        let columns: [[Float]] = [[1], [2], [3], [4], [100]]
        // beta 0.2 of 5 cuts one from each end: mean(2, 3, 4).
        #expect(AggregationMath.trimmedMean(columns, beta: 0.2) == [3])
        // beta 0.1 of 5 cuts nothing.
        #expect(AggregationMath.trimmedMean(columns, beta: 0.1) == [22])
    }

    @Test func krumScoresAndSelection() {
        let vectors: [[Float]] = [[0, 0], [1, 0], [0, 1], [10, 10]]
        let d = AggregationMath.squaredDistances(vectors)
        #expect(d[0][1] == 1 && d[1][2] == 2 && d[3][0] == 200 && d[2][2] == 0)
        // n − f − 2 = 4 − 1 − 2 = 1 nearest neighbour.
        let scores = AggregationMath.krumScores(distances: d, malicious: 1)
        #expect(scores == [1, 1, 1, 181])
        #expect(AggregationMath.krumSelection(scores: scores, keep: 0) == [0])
        #expect(Set(AggregationMath.krumSelection(scores: scores, keep: 3)) == [0, 1, 2])
    }

    @Test func nearestNeighbourMixingAveragesTheClosestNMinusF() {
        // f = 1 of 4: each vector becomes the mean of its 3 nearest (itself included).
        let mixed = AggregationMath.nearestNeighbourMixing([[0], [1], [2], [10]], malicious: 1)
        #expect(mixed.count == 4)
        for v in mixed.prefix(3) { #expect(v == [1]) }
        #expect(abs(mixed[3][0] - 13.0 / 3) < 1e-6)
        // The outlier no longer moves the median: median(1, 1, 1, 4.33) = 1.
        #expect(AggregationMath.coordinateMedian(mixed) == [1])
        // Ties go to the lower index: [1, 0] is as near [0, 0] as [0, 1]; with f = 2 of 4, the
        // two nearest of [0, 0] are itself and [1, 0].
        let tied = AggregationMath.nearestNeighbourMixing([[0, 0], [1, 0], [0, 1], [5, 5]], malicious: 2)
        #expect(tied[0] == [0.5, 0])
        // f = 0 keeps every vector in every mean: all become the overall mean.
        #expect(AggregationMath.nearestNeighbourMixing([[0], [4]], malicious: 0) == [[2], [2]])
    }

    @Test func mixingIsAStrategyOptionOfTheRobustRulesOnly() throws {
        var median = StrategyConfiguration(name: "fedmedian")
        median.mixing = 1
        var strategy = try median.makeStrategy()
        try strategy.beginRound(global: [0])
        for (i, value) in [Float(0), 1, 2, 10].enumerated() {
            try strategy.add(ClientUpdate(client: "c\(i)", delta: [value], examples: 1))
        }
        #expect(try strategy.finishRound() == [1])
        var fedavg = StrategyConfiguration(name: "fedavg")
        fedavg.mixing = 1
        #expect(throws: FederationError.self) { try fedavg.makeStrategy() }
        #expect(throws: FederationError.self) { try FedMedian(mixing: -1) }
        let parsed = try StrategyConfiguration(arguments: ["--strategy", "krum", "--num-malicious-clients", "2", "--mixing", "2"])
        #expect(parsed.mixing == 2 && parsed.numMaliciousClients == 2)
    }

    @Test func directionCheckLeavesOutUpdatesAgainstThePreviousStep() throws {
        #expect(abs(AggregationMath.cosine([1, 0], [1, 1]) - 0.5.squareRoot()) < 1e-12)
        #expect(AggregationMath.cosine([1, 0], [0, 0]) == 0)
        var median = try FedMedian(direction: 0)
        func round(_ deltas: [[Float]]) throws -> [Float] {
            try median.beginRound(global: [0, 0])
            for (i, d) in deltas.enumerated() { try median.add(ClientUpdate(client: "c\(i)", delta: d, examples: 1)) }
            return try median.finishRound()
        }
        // Round 1 has no reference: the plain median of all five.
        #expect(try round([[1, 0], [2, 0], [3, 0], [-10, 0], [-10, 0]]) == [1, 0])
        // Round 2: the two against the previous step (+x) are left out: median(1, 2, 3) = 2.
        #expect(try round([[1, 0], [2, 0], [3, 0], [-10, 0], [-10, 0]]) == [2, 0])
        // When fewer than half agree, the reference is not trusted: median of all five again.
        #expect(try round([[1, 0], [-1, 0], [-2, 0], [-3, 0], [-4, 0]]) == [-2, 0])
        #expect(throws: FederationError.self) { try FedMedian(direction: 1) }
        var fedavg = StrategyConfiguration(name: "fedavg")
        fedavg.direction = 0
        #expect(throws: FederationError.self) { try fedavg.makeStrategy() }
    }

    @Test func clippingScalesOnlyAboveTheBound() {
        let (small, clippedSmall) = AggregationMath.clipped([0.3, 0.4], to: 1)
        #expect(small == [0.3, 0.4] && !clippedSmall)
        let (big, clippedBig) = AggregationMath.clipped([3, 4], to: 1)
        #expect(clippedBig && abs(AggregationMath.l2Norm(big) - 1) < 1e-6 && abs(big[0] - 0.6) < 1e-6)
    }

    @Test func weightedMeanWeighsByExamples() {
        let mean = AggregationMath.weightedMean([[1, 0], [4, 3]], weights: [2, 1])
        #expect(mean == [2, 1])
    }

    @Test func momentumStepFollowsHeavyBall() {
        var global: [Float] = [1, 1]
        var momentum: [Float] = []
        AggregationMath.momentumStep(
            global: &global, mean: [0.5, -1], momentum: &momentum, firstRound: true, learningRate: 0.1, momentum: 0.9)
        #expect(momentum == [-0.5, 1])
        #expect(abs(global[0] - 1.05) < 1e-6 && abs(global[1] - 0.9) < 1e-6)
        AggregationMath.momentumStep(
            global: &global, mean: [0.5, -1], momentum: &momentum, firstRound: false, learningRate: 0.1, momentum: 0.9)
        #expect(abs(momentum[0] - -0.95) < 1e-6 && abs(momentum[1] - 1.9) < 1e-6)
    }

    @Test func strategiesRefuseBadUpdates() throws {
        var strategies: [any AggregationStrategy] = try [FedAvg(), FedAdam(), FedMedian(), Krum(numMaliciousClients: 1)]
        for i in strategies.indices {
            try strategies[i].beginRound(global: [0, 0, 0])
            let wrongLength = #expect(throws: FederationError.self) {
                try strategies[i].add(ClientUpdate(client: "a", delta: [1, 2], examples: 3))
            }
            #expect(wrongLength?.code == .shapeMismatch)
            let noExamples = #expect(throws: FederationError.self) {
                try strategies[i].add(ClientUpdate(client: "a", delta: [1, 2, 3], examples: 0))
            }
            #expect(noExamples?.code == .invalidArgument)
            for bad in [Float.nan, .infinity, -.infinity] {
                let nonFinite = #expect(throws: FederationError.self) {
                    try strategies[i].add(ClientUpdate(client: "a", delta: [1, bad, 3], examples: 3))
                }
                #expect(nonFinite?.code == .nonFinite)
            }
            #expect(strategies[i].updateCount == 0)
            let empty = #expect(throws: FederationError.self) { _ = try strategies[i].finishRound() }
            #expect(empty?.code == .notEnoughUpdates)
        }
    }

    @Test func multiKrumNeedsEnoughUpdates() throws {
        var krum = try Krum(numMaliciousClients: 0, numClientsToKeep: 3)
        try krum.beginRound(global: [0])
        try krum.add(ClientUpdate(client: "a", delta: [1], examples: 1))
        try krum.add(ClientUpdate(client: "b", delta: [2], examples: 1))
        #expect(throws: FederationError.self) { _ = try krum.finishRound() }
    }

    @Test func addBeforeBeginRoundIsRefused() {
        var avg = FedAvg()
        #expect(throws: FederationError.self) { try avg.add(ClientUpdate(client: "a", delta: [1], examples: 1)) }
    }
}
