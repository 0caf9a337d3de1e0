import Core
import Testing

/// What a transport scenario needs from an implementation: transports with given session
/// settings, optionally a way to break a connection, and how to wait for the network.
///
/// Shared by the in-memory tests here and the integration tests against Mosquitto (which
/// compile this file and `TransportScenarios.swift` too): only `MessageTransport` is used.
struct TransportHarness: Sendable {
    /// The session a scenario asks for.
    struct Client: Sendable {
        /// The MQTT client id.
        var id: String
        /// Start fresh and drop the session on disconnect.
        var cleanStart = false
        /// The last will, if any.
        var will: Message? = nil
    }

    /// A new, unconnected transport for `client`.
    var makeTransport: @Sendable (Client) async throws -> any MessageTransport
    /// Breaks `clientID`'s connection as a network failure would (the broker publishes its
    /// will, the transport reconnects); nil when the implementation cannot do that on demand.
    var dropConnection: (@Sendable (String) async throws -> Void)?
    /// Lets the network and the other tasks make progress (a yield in memory, a short sleep
    /// against a real broker).
    var settle: @Sendable () async -> Void = { await Task.yield() }
    /// How many `settle` calls to wait for an expected message before failing.
    var patience = 10_000
}

/// Thrown when an expected message or event does not arrive within the harness's patience.
struct ScenarioTimeout: Error, CustomStringConvertible {
    var description: String
}

/// Everything received on a stream, drained in the background so scenarios can wait for counts.
actor Collector<Element: Sendable> {
    private(set) var items: [Element] = []
    private var cursor = 0

    /// A collector draining `stream` until it finishes.
    static func draining(_ stream: AsyncStream<Element>) -> Collector {
        let collector = Collector()
        Task {
            for await item in stream { await collector.append(item) }
            await collector.finish()
        }
        return collector
    }

    /// Whether the stream has finished.
    private(set) var finished = false

    private func append(_ item: Element) { items.append(item) }
    private func finish() { finished = true }

    /// The next `count` items after those already taken, waiting for them.
    func take(_ count: Int, _ harness: TransportHarness, what: String = "messages") async throws -> [Element] {
        var waited = 0
        while items.count < cursor + count {
            guard waited < harness.patience else {
                throw ScenarioTimeout(description: "expected \(count) \(what), got \(items.count - cursor)")
            }
            waited += 1
            await harness.settle()
        }
        defer { cursor += count }
        return Array(items[cursor..<(cursor + count)])
    }

    /// The next item.
    func next(_ harness: TransportHarness, what: String = "message") async throws -> Element {
        try await take(1, harness, what: what)[0]
    }

    /// Items received and not yet taken.
    var pending: Int { items.count - cursor }

    /// Waits until the stream finishes.
    func waitForFinish(_ harness: TransportHarness) async throws {
        var waited = 0
        while !finished {
            guard waited < harness.patience else { throw ScenarioTimeout(description: "the stream did not finish") }
            waited += 1
            await harness.settle()
        }
    }
}

/// A connected client in a scenario: its transport and what it has received.
struct Peer {
    let transport: any MessageTransport
    let inbox: Collector<Message>
    let events: Collector<TransportEvent>

    /// Creates, drains and connects a transport.
    static func connect(_ client: TransportHarness.Client, _ harness: TransportHarness) async throws -> Peer {
        let transport = try await harness.makeTransport(client)
        let peer = Peer(
            transport: transport, inbox: .draining(transport.messages), events: .draining(transport.events))
        try await transport.connect()
        return peer
    }

    /// Publishes a QoS 1 message with a text payload.
    func publish(_ topic: String, _ text: String, retain: Bool = false) async throws {
        try await transport.publish(Message(topic: topic, payload: Array(text.utf8), qos: .atLeastOnce, retain: retain))
    }

    /// Subscribes at QoS 1.
    func subscribe(_ filter: String) async throws {
        try await transport.subscribe(filter, qos: .atLeastOnce)
    }

    /// The payloads of the next `count` messages, as text.
    func receive(_ count: Int, _ harness: TransportHarness) async throws -> [String] {
        try await inbox.take(count, harness).map { String(decoding: $0.payload, as: UTF8.self) }
    }
}

/// A topic prefix and client-id suffix unique to one scenario run (a real broker keeps state).
func scenarioToken() -> String {
    String(UInt64.random(in: 0...UInt64.max), radix: 36)
}
