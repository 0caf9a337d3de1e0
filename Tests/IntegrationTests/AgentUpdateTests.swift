import Agent
import Core
import Foundation
import Synchronization
import Testing

@testable import TransportMQTT

/// The real agent against real Mosquitto: a hub in the test signs assignments and serves chunks.
@Suite("Agent updates on Mosquitto", .serialized)
struct AgentUpdateTests {
    static let v1 = AgentFixture.package("1.0.0", seed: 1)
    static let v2 = AgentFixture.package("1.1.0", seed: 2)

    /// The hub's side: a transport, a chunk server over `catalog`, and the events the device sent.
    final class Hub: Sendable {
        let transport: MQTTTransport
        let serving: Task<Void, any Error>
        let events = Locked<[DeviceEvent]>([])
        let listening: Task<Void, Never>

        init(_ broker: TestBroker, catalog: [ModelPackage]) async throws {
            let server = try broker.transport(broker.clientConfiguration("hub"))
            try await server.connect()
            let chunks = try ChunkServer(transport: server, catalog: InMemoryPackageCatalog(catalog))
            try await server.subscribe(chunks.configuration.filter, qos: .atLeastOnce)
            serving = Task { try await chunks.run() }
            transport = server
            let listener = try broker.transport(broker.clientConfiguration("hub-events"))
            try await listener.connect()
            try await listener.subscribe(Topic.events(try DeviceID("dev-1")).name, qos: .atLeastOnce)
            let events = self.events
            listening = Task {
                for await message in listener.messages {
                    if let event = try? MessageCodec.decode(DeviceEvent.self, from: message.payload) {
                        events.withLock { $0.append(event) }
                    }
                }
            }
        }

        func assign(_ payload: [UInt8]) async throws {
            try await transport.publish(
                Message(topic: Topic.assignment(try DeviceID("dev-1")).name, payload: payload, qos: .atLeastOnce, retain: true))
        }

        func event(_ match: @escaping (DeviceEvent) -> Bool) async -> DeviceEvent? {
            for _ in 0..<3000 {
                if let event = events.withLock({ $0.first(where: match) }) { return event }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return nil
        }

        func stop() {
            serving.cancel()
            listening.cancel()
        }
    }

    /// Where an agent killed in each state ends after a restart.
    static let kills: [(UpdateState, String)] = [
        (.downloading, "1.1.0"), (.verifying, "1.1.0"), (.staged, "1.1.0"),
        (.activating, "1.0.0"), (.probation, "1.0.0"), (.committed, "1.1.0"),
    ]

    @Test(
        "SIGKILL in every update state, then a restart: the old or the new model is committed and serving",
        arguments: 0..<kills.count)
    func killInEveryState(index: Int) async throws {
        let (state, expected) = Self.kills[index]
        try await withBroker { broker in
            let fixture = AgentFixture(directory: broker.directory)
            try FileIO.writeAtomically(Self.v1.encode(), to: broker.directory + "/v1.starlpkg")
            let config = try fixture.writeConfiguration(broker: broker, bootstrap: broker.directory + "/v1.starlpkg")
            let hub = try await Hub(broker, catalog: [Self.v2])
            defer { hub.stop() }

            let first = try AgentProcess(["run", "--config", config], environment: ["STARLING_AGENT_TEST_STOP_IN": state.rawValue])
            defer { first.kill9() }
            let firstPort = try #require(await first.port(), "agent output: \(first.output)")
            #expect(try await AgentFixture.servedVersion(port: firstPort) == "1.0.0")
            try await hub.assign(try AgentFixture.assignment(Self.v2))
            #expect(await first.line(containing: "update: stopped in \(state.rawValue)") != nil, "output: \(first.output)")
            await first.stop(SIGKILL)

            let second = try AgentProcess(["run", "--config", config])
            defer { second.kill9() }
            let port = try #require(await second.port(), "agent output: \(second.output)")
            let settled = expected == "1.1.0" ? "update: entered committed" : "update: entered rolledBack"
            if state != .committed {
                #expect(await second.line(containing: settled) != nil, "output: \(second.output)")
            }
            #expect(try await AgentFixture.servedVersion(port: port) == expected, "output: \(second.output)")
            // The retained assignment arrives again on reconnect and is ignored, not re-applied.
            #expect(second.output.filter { $0.contains("update: entered downloading") }.isEmpty || state == .downloading)
            await second.stop(SIGTERM)
            #expect(second.exitStatus == 0)
        }
    }

    @Test("an unsigned assignment, a downgrade and a package signed by an unknown key are refused; v1 keeps serving")
    func refusals() async throws {
        try await withBroker { broker in
            let fixture = AgentFixture(directory: broker.directory)
            try FileIO.writeAtomically(Self.v1.encode(), to: broker.directory + "/v1.starlpkg")
            let config = try fixture.writeConfiguration(broker: broker, bootstrap: broker.directory + "/v1.starlpkg")
            let old = AgentFixture.package("0.9.0", seed: 3)
            let rogue = AgentFixture.package("1.2.0", seed: 4, key: AgentFixture.rogueKey)
            let hub = try await Hub(broker, catalog: [old, rogue])
            defer { hub.stop() }
            let agent = try AgentProcess(["run", "--config", config])
            defer { agent.kill9() }
            let port = try #require(await agent.port(), "agent output: \(agent.output)")

            // Unsigned: the same JSON with its signature removed.
            let signed = try AgentFixture.assignment(Self.v2)
            var object = try #require(try JSONSerialization.jsonObject(with: Data(signed)) as? [String: Any])
            object["signature"] = nil
            try await hub.assign(Array(try JSONSerialization.data(withJSONObject: object)))
            let unsigned = await hub.event { $0.error == .verificationFailed && $0.reason?.contains("not signed") == true }
            #expect(unsigned != nil, "events: \(hub.events.withLock { $0 }) output: \(agent.output)")

            // Signed by a key the device does not trust.
            try await hub.assign(try AgentFixture.assignment(Self.v2, key: AgentFixture.rogueKey))
            #expect(await hub.event { $0.error == .verificationFailed && $0.reason?.contains("trust") == true } != nil)

            // A downgrade without a rollback order.
            try await hub.assign(try AgentFixture.assignment(old))
            let downgrade = await hub.event { $0.error == .downgradeRefused }
            #expect(downgrade?.reason?.contains("0.9.0") == true)

            // A signed assignment whose package is signed by an unknown key: the download fails.
            try await hub.assign(try AgentFixture.assignment(rogue))
            let failed = await hub.event { $0.phase == .failed && $0.modelVersion == "1.2.0" }
            #expect(failed?.error == .downloadFailed, "events: \(hub.events.withLock { $0 })")
            #expect(try await AgentFixture.servedVersion(port: port) == "1.0.0")

            // A signed rollback order may downgrade.
            try await hub.assign(try AgentFixture.assignment(old, allowDowngrade: true))
            #expect(await hub.event { $0.phase == .committed && $0.modelVersion == "0.9.0" } != nil)
            #expect(try await AgentFixture.servedVersion(port: port) == "0.9.0")
            await agent.stop(SIGTERM)
            #expect(agent.exitStatus == 0)
        }
    }
}
