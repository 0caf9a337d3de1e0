import Agent
import Core
import Foundation
import Synchronization
import Testing

@testable import TransportMQTT

/// The real agent at its storage budget, with the hub's feedback subscriber on real Mosquitto.
@Suite("Agent storage budget on Mosquitto")
struct AgentStorageTests {
    @Test("past the storage budget, old predictions are pruned while serving; every label reaches the hub or stays in the store")
    func budgetKeepsFeedback() async throws {
        try await withBroker { broker in
            let fixture = AgentFixture(directory: broker.directory)
            try FileIO.writeAtomically(AgentFixture.package("1.0.0", seed: 1).encode(), to: broker.directory + "/v1.starlpkg")
            let config = try fixture.writeConfiguration(broker: broker, bootstrap: broker.directory + "/v1.starlpkg")

            let hub = try broker.transport(broker.clientConfiguration("hub-feedback"))
            try await hub.connect()
            try await hub.subscribe(Topic.feedback(try DeviceID("dev-1")).name, qos: .atLeastOnce)
            let received = Locked<Set<String>>([])
            let listening = Task {
                for await message in hub.messages {
                    if let batch = try? MessageCodec.decode(FeedbackBatch.self, from: message.payload) {
                        received.withLock { $0.formUnion(batch.rows.map(\.predictionId)) }
                    }
                }
            }
            defer { listening.cancel() }

            let agent = try AgentProcess(
                ["run", "--config", config, "--set", "storage.budgetMegabytes=1", "--set", "privacy.inputs=full"])
            defer { agent.kill9() }
            let port = try #require(await agent.port(), "agent output: \(agent.output)")
            let metadata = try await offThread { try runCommand(["curl", "-s", "http://127.0.0.1:\(port)/v2/models/digits"]) }
            let input = try #require(
                ((try JSONSerialization.jsonObject(with: Data(metadata.utf8)) as? [String: Any])?["inputs"] as? [[String: Any]])?
                    .first?["name"] as? String)
            let script = AgentFixture.root + "/Tests/IntegrationTests/Python/drive_agent.py"
            let requests = 12_000
            let summary = try await offThread { try runCommand(["python3", script, String(port), input, String(requests), "100"]) }
            let report = try #require(try JSONSerialization.jsonObject(with: Data(summary.utf8)) as? [String: Int])
            #expect(report["answered"] == requests && report["labelled"] == requests / 100 && report["failures"] == 0)
            // Every label reaches the hub, although the predictions they belong to are pruned.
            let labelled = Set(stride(from: 0, to: requests, by: 100).map { "r\($0)" })
            #expect(await eventually(timeout: .seconds(60)) { received.withLock { $0 } == labelled }, "missing: \(labelled.subtracting(received.withLock { $0 }).sorted().prefix(10))")
            await agent.stop(SIGTERM)
            #expect(agent.exitStatus == 0)

            let store = try await AgentStore.open(StoreConfiguration(path: broker.directory + "/data/agent.sqlite"))
            let kept = try await store.predictionCount()
            let counts = try await store.feedbackCounts()
            await store.close()
            #expect(kept < requests, "the budget pruned nothing: \(kept) predictions kept")
            #expect(kept > 0)
            #expect(counts.unbatched == 0 && counts.inFlight == 0)
        }
    }
}
