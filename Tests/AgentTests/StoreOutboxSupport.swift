import Core
import Synchronization
import Testing

@testable import Agent

/// A transport that loses the acknowledgement of the next `count` publishes: the broker got
/// them, but the caller sees a failure, as when the agent crashes between the broker's ack and
/// the delete of the row.
final class LosingAckTransport: MessageTransport {
    let inner: InMemoryTransport
    private let budget = Mutex(0)

    init(_ inner: InMemoryTransport) { self.inner = inner }

    func loseNextAcks(_ count: Int) { budget.withLock { $0 += count } }

    var clientID: String { inner.clientID }
    var messages: AsyncStream<Message> { inner.messages }
    var events: AsyncStream<TransportEvent> { inner.events }
    func connect() async throws(TransportError) { try await inner.connect() }
    func subscribe(_ filter: String, qos: QoS) async throws(TransportError) { try await inner.subscribe(filter, qos: qos) }
    func unsubscribe(_ filter: String) async throws(TransportError) { try await inner.unsubscribe(filter) }
    func close() async { await inner.close() }

    func publish(_ message: Message) async throws(TransportError) {
        try await inner.publish(message)
        let lose = budget.withLock { left in
            guard left > 0 else { return false }
            left -= 1
            return true
        }
        if lose { throw TransportError(.connectionFailed, "simulated crash after the broker acknowledged") }
    }
}

/// A broker with a connected hub subscriber on every device's feedback topic and a connected
/// device transport `dev-1`.
struct OutboxBench {
    let broker = InMemoryBroker()
    let hub: InMemoryTransport
    let device: InMemoryTransport
    let subscriber: FeedbackSubscriber
    let deviceID: DeviceID

    init(window: Int = 20) async throws {
        hub = InMemoryTransport(broker: broker, clientID: "hub")
        try await hub.subscribe(Subscription.filter(forEvery: .feedback), qos: .atLeastOnce)
        try await hub.connect()
        subscriber = FeedbackSubscriber.draining(hub)
        device = InMemoryTransport(
            broker: broker, clientID: "dev-1", options: InMemoryTransport.Options(maxInflight: window))
        try await device.connect()
        deviceID = try DeviceID("dev-1")
    }

    func close() async {
        await device.close()
        await hub.close()
    }
}
