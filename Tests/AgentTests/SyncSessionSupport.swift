import Core
import Synchronization
import Testing

@testable import Agent

/// A wall clock in ms since the epoch that moves only when told.
final class TestWallClock: Sendable {
    private let value: Mutex<Int64>
    init(_ start: Int64 = 1_800_000_000_000) { value = Mutex(start) }
    var now: Int64 { value.withLock { $0 } }
    func advance(ms: Int64) { value.withLock { $0 += ms } }
}

/// Connection changes a session reported, in order.
final class EventLog: Sendable {
    private let events = Mutex<[TransportEvent]>([])
    func append(_ event: TransportEvent) { events.withLock { $0.append(event) } }
    var all: [TransportEvent] { events.withLock { $0 } }
}

/// Every message a transport receives, in order.
actor Inbox {
    private(set) var messages: [Message] = []

    static func draining(_ transport: any MessageTransport) -> Inbox {
        let inbox = Inbox()
        Task { for await message in transport.messages { await inbox.append(message) } }
        return inbox
    }

    private func append(_ message: Message) { messages.append(message) }

    /// Messages on `topic`, in order.
    func on(_ topic: Topic) -> [Message] { messages.filter { $0.topic == topic.name } }

    /// The decoded control messages on `topic`.
    func decoded<M: ControlMessage>(_ type: M.Type, on topic: Topic) -> [M] {
        on(topic).compactMap { try? MessageCodec.decode(M.self, from: $0.payload) }
    }
}

/// An in-memory broker, a hub subscribed to everything of device `dev-1`, and an `AgentSession`
/// of `dev-1` with a manual clock, a test wall clock, a telemetry window and a store.
final class SyncBench: Sendable {
    static let device = try! DeviceID("dev-1")
    static let interval = Duration.seconds(30)

    let broker = InMemoryBroker()
    let hub: InMemoryTransport
    let hubInbox: Inbox
    let transport: InMemoryTransport
    let clock = ManualClock()
    let wall: TestWallClock
    let window = TelemetryWindow()
    let store: AgentStore
    let session: AgentSession
    let received: Inbox
    let connections = EventLog()

    /// A bench on `store` (whose `now` must read `wall`).
    init(store: AgentStore, wall: TestWallClock, directory: String, model: ModelIdentity? = nil) async throws {
        self.store = store
        self.wall = wall
        hub = InMemoryTransport(broker: broker, clientID: "hub")
        try await hub.subscribe("\(Topic.root)/devices/+/#", qos: .atLeastOnce)
        try await hub.connect()
        hubInbox = Inbox.draining(hub)
        let will = try AgentSession.lastWill(device: Self.device, profile: "rpi4-arm64", agentVersion: "0.1.0")
        transport = InMemoryTransport(broker: broker, clientID: "dev-1", options: .init(will: will))
        let received = Inbox()
        self.received = received
        let connections = self.connections
        session = try AgentSession(
            transport: transport, store: store,
            configuration: .init(
                device: Self.device, firmwareProfile: "rpi4-arm64", agentVersion: "0.1.0", telemetryInterval: Self.interval,
                outbox: .init(window: 4, retryDelay: .milliseconds(100))),
            window: window, sampler: ProcessSampler(dataDirectory: directory), model: { model }, clock: clock,
            wallClock: { wall.now },
            onMessage: { message in await received.record(message) },
            onConnection: { event in connections.append(event) })
    }

    /// The retained status on the device's status topic, decoded.
    func retainedStatus() async -> DeviceStatus? {
        guard let message = await broker.retainedMessage(on: Topic.status(Self.device).name) else { return nil }
        return try? MessageCodec.decode(DeviceStatus.self, from: message.payload)
    }

    /// Waits until the session is online and its telemetry loop sleeps, then ends one interval.
    func tick() async throws {
        try await pollUntil("the telemetry loop sleeps", patience: 30_000) { clock.sleeperCount >= 1 }
        wall.advance(ms: 30_000)
        clock.advance(by: Self.interval)
    }

    func close() async {
        await session.stop()
        await hub.close()
    }
}

extension Inbox {
    fileprivate func record(_ message: Message) { messages.append(message) }
}

/// `body` with a store whose clock is `wall`, in a temporary directory.
func withSyncBench(model: ModelIdentity? = nil, _ body: (SyncBench) async throws -> Void) async throws {
    let wall = TestWallClock()
    try await withStore({ $0.now = { wall.now } }) { store, directory in
        let bench = try await SyncBench(store: store, wall: wall, directory: directory, model: model)
        do {
            try await body(bench)
            await bench.close()
        } catch {
            await bench.close()
            throw error
        }
    }
}
