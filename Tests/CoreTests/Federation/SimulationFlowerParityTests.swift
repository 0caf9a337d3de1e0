import Core
import Foundation
import Testing

/// The simulation against the committed output of `Benchmarks/federated/flower_digits.py`
/// (Flower 1.42 FedAvg over numpy SGD clients, same initial parameters, same mini-batches), so
/// `make test` checks the parity without Python. Regenerate both files with:
///
///     starling simulate federated --data data/digits.csv --partition data/digits_dirichlet05_20clients.json \
///         --clients 5 --rounds 5 --init-out Tests/CoreTests/Fixtures/federation-sim/init-mlp-seed1.json
///     python Benchmarks/federated/flower_digits.py --clients 5 --rounds 5 \
///         --init Tests/CoreTests/Fixtures/federation-sim/init-mlp-seed1.json \
///         --json Tests/CoreTests/Fixtures/federation-sim/flower-mlp-5clients-5rounds.json
@Suite("Federated simulation against Flower")
struct SimulationFlowerParityTests {
    struct Reference: Decodable {
        struct Round: Decodable {
            var round: Int
            var testAccuracy: Double
            var testLoss: Double
        }
        var permutationCheck: [Int]
        var rounds: [Round]
    }

    static let directory = TestSupport.root + "/Tests/CoreTests/Fixtures/federation-sim/"

    func reference() throws -> Reference {
        try JSONDecoder().decode(
            Reference.self, from: Data(try FileIO.read(Self.directory + "flower-mlp-5clients-5rounds.json")))
    }

    @Test("the Python port of RandomSource draws the same permutation")
    func shuffling() throws {
        var random = RandomSource(seed: 42)
        #expect(random.permutation(10) == (try reference().permutationCheck))
    }

    @Test("the committed initial parameters are ModelBuilder's for seed 1")
    func initialParameters() throws {
        let graph = try ModelBuilder.build(.mlp(hidden: [64]), inputShape: [64], outputs: 10, seed: 1)
        let committed = try ParameterFile(json: try FileIO.read(Self.directory + "init-mlp-seed1.json"))
        #expect(try ParameterFile(graph: graph) == committed)
    }

    @Test("five rounds on five clients match Flower's FedAvg round by round")
    func curvesAgree() throws {
        let flower = try reference()
        var graph = try ModelBuilder.build(.mlp(hidden: [64]), inputShape: [64], outputs: 10, seed: 99)
        try ParameterFile(json: try FileIO.read(Self.directory + "init-mlp-seed1.json")).apply(to: &graph)
        let dataset = try FederationFixtures.digits(clients: 5)
        let result = try FederatedSimulation(
            graph: graph, participants: dataset.participants, test: dataset.test,
            configuration: SimulationConfiguration(rounds: 5)
        ).run(strategy: FedAvg())
        #expect(result.rounds.count == flower.rounds.count)
        // Same batches and float32 math, summed in a different order: the curves agree to within one
        // of the 360 test rows (they are equal when this was written) and the losses to 1e-3.
        for (mine, theirs) in zip(result.rounds, flower.rounds) {
            #expect(mine.round == theirs.round)
            #expect(abs(Double(mine.testAccuracy!) - theirs.testAccuracy) <= 1.0 / 360 + 1e-6)
            #expect(abs(Double(mine.testLoss) - theirs.testLoss) <= 1e-3 * max(1, theirs.testLoss))
        }
    }
}
