import Core
import Testing

@testable import TransportMQTT

/// The agent's outbox against a real Mosquitto: the scenario of `AgentOutboxScenario.swift`
/// (shared with the in-memory unit tests in AgentTests) with a broker process that is really
/// stopped and started again.
@Suite("Agent outbox over Mosquitto", .serialized)
struct AgentOutboxTests {
    @Test("broker stopped while 10,000 labels are produced: all reach the hub after the restart, none missing")
    func brokerDownTenThousand() async throws {
        try await withBroker { broker in
            let directory = try makeTemporaryDirectory("starling-agent-outbox")
            defer { removeTree(directory) }
            let harness = OutboxScenarioHarness(
                makeTransport: { clientID in
                    var configuration = broker.clientConfiguration(clientID)
                    configuration.cleanStart = false
                    configuration.sessionExpiry = .seconds(3600)
                    return try broker.transport(configuration)
                },
                stopBroker: { broker.stop() },
                startBroker: { try broker.start() },
                directory: directory)
            try await OutboxScenarios.brokerDownWhileLabelling(harness, rows: 10_000)
        }
    }
}
