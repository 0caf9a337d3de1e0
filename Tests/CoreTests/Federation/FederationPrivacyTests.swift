import Core
import Foundation
import Testing

/// The central DP wrappers: the noiseless parts against Flower 1.42, the noise statistically.
@Suite struct FederationPrivacyTests {
    @Test func fixedClippingMatchesFlowerWithoutNoise() throws {
        let fixture = try StrategyFixture.load("dp_fixed")
        var strategy: any AggregationStrategy = try FixedClippingDP(
            wrapping: FedAvg(), noiseMultiplier: 0, clippingNorm: fixture.parameters["clipping_norm"]!,
            numSampledClients: 6)
        let results = try replay(fixture.rounds, &strategy)
        for (round, result) in zip(fixture.rounds, results) { #expect(worstError(result, round.result) <= 1) }
        // The bound binds: plain FedAvg differs.
        var plain: any AggregationStrategy = FedAvg()
        #expect(worstError(try replay(fixture.rounds, &plain)[0], fixture.rounds[0].result) > 100)
    }

    /// With Flower's norm bit (`clipped`) and no noise, the clipping-norm trajectory and the
    /// parameters equal Flower's for two target quantiles.
    @Test(arguments: ["dp_adaptive_q5", "dp_adaptive_q2"]) func adaptiveClippingMatchesFlower(_ name: String) throws {
        let fixture = try StrategyFixture.load(name)
        var dp = try AdaptiveClippingDP(
            wrapping: FedAvg(), noiseMultiplier: 0, numSampledClients: 6,
            initialClippingNorm: fixture.parameters["initial_clipping_norm"]!,
            targetClippedQuantile: fixture.parameters["target_clipped_quantile"]!,
            clipNormLR: fixture.parameters["clip_norm_lr"]!, normBit: .clipped)
        for round in fixture.rounds {
            try dp.beginRound(global: round.global)
            for u in round.updates { try dp.add(ClientUpdate(client: u.client, delta: u.delta, examples: u.examples)) }
            let result = try dp.finishRound()
            #expect(worstError(result, round.result) <= 1, "\(name) round \(round.round)")
            let flowerNorm = try #require(round.clippingNorm)
            #expect(abs(dp.clippingNorm - flowerNorm) <= 1e-12 * flowerNorm, "\(name) round \(round.round)")
        }
    }

    /// Andrew et al.'s bit (unclipped) drives C to the target quantile of the update norms.
    @Test func adaptiveClippingConvergesToTheQuantile() throws {
        var dp = try AdaptiveClippingDP(
            wrapping: FedAvg(), noiseMultiplier: 0, numSampledClients: 20, initialClippingNorm: 0.01,
            targetClippedQuantile: 0.5, clipNormLR: 0.2)
        // Update k has norm (k + 1) / 10: the median norm is 1.05.
        let updates = (0..<20).map { k in ClientUpdate(client: "c\(k)", delta: [Float(k + 1) / 10, 0], examples: 1) }
        for _ in 0..<200 {
            try dp.beginRound(global: [0, 0])
            for u in updates { try dp.add(u) }
            _ = try dp.finishRound()
        }
        #expect(dp.clippingNorm > 0.9 && dp.clippingNorm < 1.2, "C = \(dp.clippingNorm)")
    }

    @Test func noiseHasFlowersStandardDeviation() throws {
        let reference =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: StrategyFixture.directory + "dp_noise.json"))) as! [String: Any]
        let formula = reference["formula_std"] as! Double
        let parameters = 200_000
        var dp = try FixedClippingDP(wrapping: FedAvg(), noiseMultiplier: 1, clippingNorm: 0.5, numSampledClients: 6, seed: 5)
        #expect(abs(dp.noiseStandardDeviation - formula) < 1e-15)
        try dp.beginRound(global: [Float](repeating: 0, count: parameters))
        try dp.add(ClientUpdate(client: "a", delta: [Float](repeating: 0, count: parameters), examples: 1))
        let noise = try dp.finishRound().map(Double.init)
        let mean = noise.reduce(0, +) / Double(parameters)
        let std = (noise.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(parameters)).squareRoot()
        // The sample std of 200k normals is within 1 % of σ with overwhelming probability (5σ).
        #expect(abs(std - formula) < 0.01 * formula, "std \(std), expected \(formula)")
        #expect(abs(mean) < 5 * formula / Double(parameters).squareRoot())
        // Same seed, same noise; another seed, other noise.
        func firstNoise(seed: UInt64) throws -> [Float] {
            var s = try FixedClippingDP(
                wrapping: FedAvg(), noiseMultiplier: 1, clippingNorm: 0.5, numSampledClients: 6, seed: seed)
            try s.beginRound(global: [0, 0, 0])
            try s.add(ClientUpdate(client: "a", delta: [0, 0, 0], examples: 1))
            return try s.finishRound()
        }
        #expect(try firstNoise(seed: 5) == noise.prefix(3).map(Float.init))
        #expect(try firstNoise(seed: 6) != noise.prefix(3).map(Float.init))
    }

    @Test func adaptiveNoiseSplitMatchesFlower() throws {
        let reference =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: StrategyFixture.directory + "dp_noise.json"))) as! [String: Any]
        let adaptive = reference["adaptive"] as! [String: Any]
        let dp = try AdaptiveClippingDP(wrapping: FedAvg(), noiseMultiplier: 1, numSampledClients: 40)
        #expect(abs(dp.clippedCountStddev - (adaptive["clipped_count_stddev"] as! Double)) < 1e-12)
        #expect(abs(dp.noiseMultiplier - (adaptive["effective_noise_multiplier"] as! Double)) < 1e-12)
        // Too little count noise for the requested multiplier is refused, naming the key.
        let error = #expect(throws: FederationError.self) {
            _ = try AdaptiveClippingDP(wrapping: FedAvg(), noiseMultiplier: 1, numSampledClients: 10)
        }
        #expect(error?.message.contains("clipped_count_stddev") == true)
    }

    @Test func wrapperRefusesBadSettings() {
        #expect(throws: FederationError.self) {
            _ = try FixedClippingDP(wrapping: FedAvg(), noiseMultiplier: -1, clippingNorm: 1, numSampledClients: 1)
        }
        #expect(throws: FederationError.self) {
            _ = try FixedClippingDP(wrapping: FedAvg(), noiseMultiplier: 1, clippingNorm: 0, numSampledClients: 1)
        }
        #expect(throws: FederationError.self) {
            _ = try AdaptiveClippingDP(wrapping: FedAvg(), noiseMultiplier: 0, numSampledClients: 5, targetClippedQuantile: 1.5)
        }
    }
}
