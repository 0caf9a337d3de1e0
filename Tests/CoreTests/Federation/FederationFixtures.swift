import Core
import Foundation

/// The reference runs of Flower 1.42 written by `Benchmarks/federated/flower_fixtures.py`.
struct StrategyFixture: Decodable {
    struct Update: Decodable {
        var client: String
        var examples: Int
        var delta: [Float]
    }

    struct Round: Decodable {
        var round: Int
        var global: [Float]
        var updates: [Update]
        var result: [Double]
        var clippingNorm: Double?

        enum CodingKeys: String, CodingKey { case round, global, updates, result, clippingNorm = "clipping_norm" }
    }

    var flower: String
    var strategy: String
    var parameters: [String: Double]
    var rounds: [Round]

    static let directory = TestSupport.root + "/Tests/CoreTests/Fixtures/federation/"

    static func load(_ name: String) throws -> StrategyFixture {
        try JSONDecoder().decode(StrategyFixture.self, from: Data(contentsOf: URL(fileURLWithPath: directory + name + ".json")))
    }

    /// The strategy the fixture names, built from its Flower parameters through the JSON configuration.
    func configuration() throws -> StrategyConfiguration {
        var object: [String: Any] = ["name": strategy]
        for (key, value) in parameters { object[key] = key.hasPrefix("num_") ? Int(value) as Any : value as Any }
        return try JSONDecoder().decode(StrategyConfiguration.self, from: JSONSerialization.data(withJSONObject: object))
    }
}

/// Runs `rounds` through `strategy`, each from the fixture's global, and returns each round's result.
func replay(_ rounds: [StrategyFixture.Round], _ strategy: inout any AggregationStrategy) throws -> [[Float]] {
    var results: [[Float]] = []
    for round in rounds {
        try strategy.beginRound(global: round.global)
        for u in round.updates { try strategy.add(ClientUpdate(client: u.client, delta: u.delta, examples: u.examples)) }
        results.append(try strategy.finishRound())
    }
    return results
}

/// The largest violation of |a − b| ≤ rtol·|b| + atol, as a multiple of the bound (≤ 1 passes).
func worstError(_ a: [Float], _ b: [Double], rtol: Double = 1e-5, atol: Double = 1e-6) -> Double {
    precondition(a.count == b.count)
    return zip(a, b).map { abs(Double($0) - $1) / (rtol * abs($1) + atol) }.max() ?? 0
}

/// Deterministic random updates for tests that need no reference values.
func randomUpdates(count: Int, parameters: Int, seed: UInt64, scale: Float = 0.1) -> [ClientUpdate] {
    var random = RandomSource(seed: seed)
    return (0..<count).map { k in
        ClientUpdate(
            client: "c\(k)", delta: (0..<parameters).map { _ in scale * random.normal() }, examples: 1 + random.below(50))
    }
}
