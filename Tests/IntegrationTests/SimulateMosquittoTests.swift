import Agent
import Core
import Testing

@testable import TransportMQTT

/// Simulated devices against real Mosquitto: each its own MQTT session and store.
@Suite("Simulated fleet on Mosquitto", .serialized)
struct SimulateMosquittoTests {
    @Test("20 simulated devices: valid assignments reach 2.0.0, a wrong signature and bad packages are refused")
    func rollout() async throws {
        try await withBroker { broker in
            let directory = broker.directory + "/fleet"
            try await runSimulatedRollout(
                SimulationScenarioHarness(
                    makeTransport: { id, will in
                        var configuration = broker.clientConfiguration(id)
                        configuration.will = will
                        return try broker.transport(configuration)
                    },
                    directory: directory, devices: 20))
        }
    }
}
