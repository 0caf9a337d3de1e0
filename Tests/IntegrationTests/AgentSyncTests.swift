import Agent
import Core
import Synchronization
import Testing

@testable import TransportMQTT

/// `AgentSession` against a real Mosquitto: retained presence, the last will when the connection
/// dies without DISCONNECT, telemetry on its interval, and the outbox across a broker restart.
@Suite("Agent sync over Mosquitto", .serialized)
struct AgentSyncTests {
    static let device = try! DeviceID("pi-sync")
    static let patience = Duration.seconds(60)

    /// Everything one test needs: a store in a temporary directory and a session of `pi-sync`
    /// whose transport has the last will.
    final class SyncAgent: Sendable {
        let directory: String
        let store: AgentStore
        let window = TelemetryWindow()
        let session: AgentSession
        let transport: MQTTTransport

        init(broker: TestBroker, telemetryInterval: Duration = .seconds(60)) async throws {
            directory = try makeTemporaryDirectory("starling-agent-sync")
            store = try await AgentStore.open(StoreConfiguration(path: "\(directory)/agent.sqlite"))
            var configuration = broker.clientConfiguration(AgentSyncTests.device.rawValue)
            configuration.will = try AgentSession.lastWill(
                device: AgentSyncTests.device, profile: "rpi4-arm64", agentVersion: "0.1.0")
            transport = try broker.transport(configuration)
            let model = ModelIdentity(name: try ModelName("digits"), version: "2.0.0")
            session = try AgentSession(
                transport: transport, store: store,
                configuration: .init(
                    device: AgentSyncTests.device, firmwareProfile: "rpi4-arm64", agentVersion: "0.1.0",
                    telemetryInterval: telemetryInterval, outbox: .init(window: 8, retryDelay: .milliseconds(200))),
                window: window, sampler: ProcessSampler(dataDirectory: directory), model: { model }, onMessage: { _ in })
        }

        func shutdown() async {
            await session.stop()
            await store.close()
            removeTree(directory)
        }
    }

    /// A hub-side client subscribed to everything of the device, with its messages collected.
    static func watcher(_ broker: TestBroker, _ id: String) async throws -> (MQTTTransport, Received) {
        let watcher = try broker.transport(broker.clientConfiguration(id))
        let received = Received.draining(watcher)
        try await watcher.connect()
        try await watcher.subscribe("\(Topic.root)/devices/\(device)/#", qos: .atLeastOnce)
        return (watcher, received)
    }

    @Test("the retained online status reaches a subscriber that connects afterwards")
    func retainedOnline() async throws {
        try await withBroker { broker in
            let agent = try await SyncAgent(broker: broker)
            try await agent.session.start()
            #expect(await eventually(timeout: Self.patience) { await agent.session.state == .online })
            let (_, received) = try await Self.watcher(broker, "late-hub")
            #expect(await eventually(timeout: Self.patience) { await !received.statuses().isEmpty })
            let status = try #require(await received.statuses().first)
            #expect(status.state == .online && status.modelName?.rawValue == "digits" && status.modelVersion == "2.0.0")
            #expect(await received.messages.first?.retain == true)
            await agent.shutdown()
        }
    }

    @Test("the connection dies without DISCONNECT: the will says offline, then the session announces online again")
    func lastWill() async throws {
        try await withBroker { broker in
            let agent = try await SyncAgent(broker: broker)
            try await agent.session.start()
            let (_, received) = try await Self.watcher(broker, "hub")
            #expect(await eventually(timeout: Self.patience) { await received.statuses().last?.state == .online })
            agent.transport.client.simulateConnectionLoss()
            #expect(await eventually(timeout: Self.patience) { await received.statuses().contains { $0.state == .offline } })
            let will = try #require(await received.statuses().first { $0.state == .offline })
            #expect(will.reason == "connection lost")
            #expect(await eventually(timeout: Self.patience) { await received.statuses().last?.state == .online })

            // A graceful stop publishes offline itself (reason "shutdown"), and no will follows.
            await agent.session.stop(reason: "shutdown")
            #expect(await eventually(timeout: Self.patience) { await received.statuses().last?.reason == "shutdown" })
            let fresh = try broker.transport(broker.clientConfiguration("fresh"))
            let retained = Received.draining(fresh)
            try await fresh.connect()
            try await fresh.subscribe(Topic.status(Self.device).name, qos: .atLeastOnce)
            #expect(await eventually(timeout: Self.patience) { await !retained.statuses().isEmpty })
            #expect(await retained.statuses().first?.reason == "shutdown")
            await agent.shutdown()
        }
    }

    @Test("telemetry arrives every interval with the predictions counted and plausible process figures")
    func telemetryCadence() async throws {
        try await withBroker { broker in
            let agent = try await SyncAgent(broker: broker, telemetryInterval: .milliseconds(500))
            let (_, received) = try await Self.watcher(broker, "hub")
            try await agent.session.start()
            #expect(await eventually(timeout: Self.patience) { await agent.session.state == .online })
            for ms in 1...20 { agent.window.recordSuccess(latency: .milliseconds(ms)) }
            agent.window.recordFailure()
            #expect(await eventually(timeout: Self.patience) { await received.telemetry().count >= 3 })
            let telemetry = await received.telemetry()
            #expect(telemetry.reduce(0) { $0 + $1.predictions } == 20, "each prediction counted in exactly one window")
            // A tick may fall between the recordings and split them over two windows; the
            // figures are checked when it did not.
            let counted = telemetry.filter { $0.predictions > 0 }
            if counted.count == 1 {
                #expect(abs(counted[0].errorRate - 1.0 / 21.0) < 1e-9)
                #expect(abs(counted[0].latencyP50Ms - 10) <= 0.1 && abs(counted[0].latencyP95Ms - 19) <= 0.19)
            }
            for message in telemetry {
                #expect(message.rssBytes > 1 << 20 && message.diskUsedBytes > 0 && message.windowMs > 0)
                #expect((0...100).contains(message.cpuPercent) && message.modelVersion == "2.0.0")
            }
            let times = telemetry.map(\.time)
            #expect(times == times.sorted() && Set(telemetry.map(\.id)).count == telemetry.count)
            await agent.shutdown()
        }
    }

    @Test("broker restart: events and feedback enqueued while it is down all arrive after the reconnect")
    func brokerRestart() async throws {
        try await withBroker { broker in
            let agent = try await SyncAgent(broker: broker)
            let (_, received) = try await Self.watcher(broker, "hub")
            try await agent.session.start()
            #expect(await eventually(timeout: Self.patience) { await agent.session.state == .online })

            broker.stop()
            #expect(await eventually(timeout: Self.patience) { await agent.session.state == .offline })
            let phases: [DeviceEvent.Phase] = [.downloading, .verifying, .staged, .activating, .probation, .committed]
            for phase in phases {
                try await agent.session.report(
                    DeviceEvent(id: agent.session.makeMessageID("ev"), time: 1, kind: .update, phase: phase, rolloutId: "r-1"))
            }
            for index in 0..<50 {
                #expect(
                    agent.store.record(
                        PredictionRecord(
                            requestID: "req-\(index)", time: 1, modelName: "digits", modelVersion: "2.0.0", inputs: "[1]",
                            outputs: "[0.5]", latencyMicroseconds: 10)))
            }
            await agent.store.flush()
            let labels = (0..<50).map { FeedbackInput(predictionID: "req-\($0)", label: "\($0 % 10)", time: 2) }
            #expect(try await agent.store.attachFeedback(labels).allSatisfy { $0 == .attached })
            try broker.start()

            #expect(await eventually(timeout: Self.patience) { await received.feedbackRows().count == 50 })
            #expect(await eventually(timeout: Self.patience) { await Set(received.events().compactMap(\.phase)) == Set(phases) })
            let events = await received.events()
            #expect(Set(events.map(\.id)).count == phases.count, "no loss; repeats only under the same id")
            let drained = try await eventually(timeout: Self.patience) {
                let pending = try await agent.store.outboxCount()
                let sent = try await agent.store.feedbackCounts().sent
                return pending == 0 && sent == 50
            }
            #expect(drained, "every row acknowledged and deleted, every label marked sent")
            await agent.shutdown()
        }
    }
}

/// Messages a watcher received, decoded on demand.
actor Received {
    private(set) var messages: [Message] = []

    static func draining(_ transport: any MessageTransport) -> Received {
        let received = Received()
        Task { for await message in transport.messages { await received.append(message) } }
        return received
    }

    private func append(_ message: Message) { messages.append(message) }

    private func decoded<M: ControlMessage>(_ type: M.Type, suffix: String) -> [M] {
        messages.filter { $0.topic.hasSuffix(suffix) }.compactMap { try? MessageCodec.decode(M.self, from: $0.payload) }
    }

    func statuses() -> [DeviceStatus] { decoded(DeviceStatus.self, suffix: "/status") }
    func telemetry() -> [Telemetry] { decoded(Telemetry.self, suffix: "/telemetry") }
    func events() -> [DeviceEvent] { decoded(DeviceEvent.self, suffix: "/events") }
    /// Distinct labelled prediction ids across feedback batches.
    func feedbackRows() -> Set<String> {
        Set(decoded(FeedbackBatch.self, suffix: "/feedback").flatMap { $0.rows.map(\.predictionId) })
    }
}
