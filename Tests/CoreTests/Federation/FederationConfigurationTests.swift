import Core
import Foundation
import Testing

/// Strategy configurations: JSON with Flower's keys, CLI flags, Flower's defaults, refusals.
@Suite struct FederationConfigurationTests {
    @Test func everyNameMakesItsStrategy() throws {
        for name in StrategyConfiguration.names {
            var configuration = StrategyConfiguration(name: name)
            if name == "fedprox" { configuration.proximalMu = 0.1 }
            if name == "multikrum" { configuration.numClientsToKeep = 2 }
            #expect(try configuration.makeStrategy().name == name)
        }
    }

    @Test func defaultsAreFlowers() throws {
        let yogi = try #require(try StrategyConfiguration(name: "fedyogi").makeStrategy() as? FedYogi)
        #expect(yogi.eta == 1e-2 && yogi.etaL == 0.0316 && yogi.tau == 1e-3 && yogi.beta1 == 0.9 && yogi.beta2 == 0.99)
        let adam = try #require(try StrategyConfiguration(name: "fedadam").makeStrategy() as? FedAdam)
        #expect(adam.eta == 0.1 && adam.tau == 1e-9)
        let adagrad = try #require(try StrategyConfiguration(name: "fedadagrad").makeStrategy() as? FedAdagrad)
        #expect(adagrad.beta1 == 0 && adagrad.eta == 0.1)
        let trimmed = try #require(try StrategyConfiguration(name: "fedtrimmedavg").makeStrategy() as? FedTrimmedAvg)
        #expect(trimmed.beta == 0.2)
    }

    @Test func jsonRoundTripUsesFlowerKeys() throws {
        var configuration = StrategyConfiguration(name: "fedavgm")
        configuration.serverLearningRate = 0.5
        configuration.serverMomentum = 0.9
        configuration.privacy = PrivacyConfiguration(clipping: .fixed, noiseMultiplier: 1, numSampledClients: 10, clippingNorm: 2)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(configuration), as: UTF8.self)
        #expect(json.contains(#""server_learning_rate":0.5"#) && json.contains(#""num_sampled_clients":10"#))
        #expect(try JSONDecoder().decode(StrategyConfiguration.self, from: Data(json.utf8)) == configuration)
        let strategy = try configuration.makeStrategy()
        #expect(strategy.name == "dp-fixed(fedavgm)")
    }

    @Test func parsesCommandLineFlags() throws {
        let c = try StrategyConfiguration(arguments: [
            "--strategy", "fedadam", "--server-lr", "0.3", "--eta", "0.05", "--beta-2", "0.999",
        ])
        #expect(c.name == "fedadam" && c.eta == 0.05 && c.beta2 == 0.999 && c.serverLearningRate == 0.3)
        // server_learning_rate is FedAvgM's, not FedAdam's: refused by name when the strategy is made.
        let error = #expect(throws: FederationError.self) { _ = try c.makeStrategy() }
        #expect(error?.message.contains("server_learning_rate") == true)

        let dp = try StrategyConfiguration(arguments: [
            "--strategy", "fedavg", "--dp", "adaptive", "--noise-multiplier", "0.5", "--num-sampled-clients", "20",
            "--target-clipped-quantile", "0.7", "--dp-seed", "9",
        ])
        let wrapped = try #require(try dp.makeStrategy() as? AdaptiveClippingDP)
        #expect(wrapped.targetClippedQuantile == 0.7 && wrapped.seed == 9 && wrapped.clippedCountStddev == 1)
    }

    @Test func refusesUnknownsAndMissingValues() {
        for arguments in [
            ["--strategy", "fedsgd"], ["--eta", "0.1"], ["--strategy", "fedadam", "--eta"],
            ["--strategy", "fedadam", "--eta", "fast"], ["--strategy", "fedavg", "--bogus", "1"],
            ["--strategy", "fedavg", "--noise-multiplier", "1"], ["--strategy", "fedprox"],
            ["--strategy", "multikrum"], ["--strategy", "fedtrimmedavg", "--beta", "0.5"],
        ] {
            #expect(throws: FederationError.self, "\(arguments)") {
                _ = try StrategyConfiguration(arguments: arguments).makeStrategy()
            }
        }
    }
}
