import Core
import Foundation
import Testing

/// The RDP accountant against Google's dp-accounting 0.6 `RdpAccountant` (fixture `rdp.json`).
@Suite struct FederationAccountantTests {
    struct Case: Decodable {
        var samplingRate: Double
        var noiseMultiplier: Double
        var steps: Int
        var delta: Double
        var epsilon: Double
        var order: Double
        var orders: [Double]
        var rdpPerRound: [Double?]

        enum CodingKeys: String, CodingKey {
            case samplingRate = "sampling_rate", noiseMultiplier = "noise_multiplier", steps, delta, epsilon, order, orders
            case rdpPerRound = "rdp_per_round"
        }
    }

    struct Fixture: Decodable { var cases: [Case] }

    static let cases: [Case] = {
        let url = URL(fileURLWithPath: StrategyFixture.directory + "rdp.json")
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url)).cases
    }()

    @Test(arguments: 0..<6) func epsilonMatchesDPAccounting(_ index: Int) {
        let c = Self.cases[index]
        var accountant = RDPAccountant()
        accountant.compose(noiseMultiplier: c.noiseMultiplier, samplingRate: c.samplingRate, steps: c.steps)
        let (epsilon, order) = accountant.epsilon(delta: c.delta)
        #expect(
            abs(epsilon - c.epsilon) <= 1e-6 * c.epsilon,
            "q \(c.samplingRate) σ \(c.noiseMultiplier): ε \(epsilon) vs \(c.epsilon)")
        #expect(order == c.order)
    }

    /// Per-round RDP at integer and fractional orders, including an order where dp-accounting's
    /// series does not converge (reported as infinity by both).
    @Test(arguments: 0..<6) func rdpMatchesDPAccounting(_ index: Int) {
        let c = Self.cases[index]
        for (alpha, expected) in zip(c.orders, c.rdpPerRound) {
            let rdp = RDPAccountant.rdp(noiseMultiplier: c.noiseMultiplier, samplingRate: c.samplingRate, order: alpha)
            if let expected {
                #expect(abs(rdp - expected) <= 1e-8 * expected + 1e-15, "α \(alpha): \(rdp) vs \(expected)")
            } else {
                #expect(rdp.isInfinite, "α \(alpha): \(rdp), dp-accounting: infinity")
            }
        }
    }

    @Test func moreRoundsOrLessNoiseCostMore() {
        func epsilon(_ sigma: Double, _ steps: Int) -> Double {
            var a = RDPAccountant()
            a.compose(noiseMultiplier: sigma, samplingRate: 0.05, steps: steps)
            return a.epsilon(delta: 1e-5).epsilon
        }
        #expect(epsilon(1, 100) < epsilon(1, 200))
        #expect(epsilon(2, 100) < epsilon(1, 100))
        #expect(RDPAccountant().epsilon(delta: 1e-5).epsilon == 0)
    }
}
