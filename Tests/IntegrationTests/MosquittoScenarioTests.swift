import Core
import Testing

@testable import TransportMQTT

/// The transport scenarios of CoreTests (compiled in here through `Shared/`), against Mosquitto.
@Suite("transport scenarios on Mosquitto", .serialized)
struct MosquittoScenarioTests {
    @Test(arguments: TransportScenarios.names)
    func scenario(_ name: String) async throws {
        try await withBroker { broker in
            try await TransportScenarios.run(name, on: broker.harness())
        }
    }
}
