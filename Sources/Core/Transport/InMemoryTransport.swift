/// A `MessageTransport` to an `InMemoryBroker`: the in-process twin of `MQTTTransport` for unit
/// tests. Deterministic: no sockets, no clocks, no background tasks.
///
/// Semantics follow MQTT 5 and `docs/protocol.md`: QoS 1 publishes return when the broker has
/// taken the message, pipelined up to `Options.maxInflight`, past which `publish` waits for room;
/// while the connection is down QoS 1 publishes wait for the reconnect (and are sent then), QoS 0
/// publishes are dropped. Subscriptions may be made before `connect()`, and the transport
/// re-subscribes them when it reconnects to a fresh session. After a dropped connection it
/// reconnects by itself as soon as the broker is reachable, reporting `.disconnected` and then
/// `.connected(sessionPresent:)` on `events`.
public final class InMemoryTransport: MessageTransport {
    /// Session settings, as an MQTT client would send them in CONNECT.
    public struct Options: Sendable {
        /// Start a fresh session and drop it on disconnect (session expiry 0). When false, the
        /// broker keeps the session and queues QoS 1 messages while the client is away.
        public var cleanStart: Bool
        /// Published by the broker when the connection drops without a clean close.
        public var will: Message?
        /// QoS 1 publishes in flight at once (MQTT Receive Maximum); more wait for room.
        public var maxInflight: Int

        /// Options; the defaults are a persistent session without a will and a window of 20.
        public init(cleanStart: Bool = false, will: Message? = nil, maxInflight: Int = 20) {
            self.cleanStart = cleanStart
            self.will = will
            self.maxInflight = Swift.max(1, maxInflight)
        }
    }

    /// The client identifier of this session.
    public let clientID: String
    /// Inbound messages of every subscription, in delivery order.
    public let messages: AsyncStream<Message>
    /// Connection changes.
    public let events: AsyncStream<TransportEvent>
    /// The broker this transport talks to.
    public let broker: InMemoryBroker
    /// The session settings.
    public let options: Options
    let messageSink: AsyncStream<Message>.Continuation
    let eventSink: AsyncStream<TransportEvent>.Continuation

    /// A transport for `clientID` on `broker`; nothing happens until `connect()`.
    public init(broker: InMemoryBroker, clientID: String, options: Options = Options()) {
        self.broker = broker
        self.clientID = clientID
        self.options = options
        (messages, messageSink) = AsyncStream.makeStream(of: Message.self)
        (events, eventSink) = AsyncStream.makeStream(of: TransportEvent.self)
    }

    /// Connects; throws `connectionFailed` if the broker is stopped or this client is cut off.
    public func connect() async throws(TransportError) {
        try await broker.connect(self)
    }

    /// Publishes `message`; see the type's documentation for when it returns.
    public func publish(_ message: Message) async throws(TransportError) {
        try await broker.publish(message, from: self)
    }

    /// Subscribes to `filter` (also `$share/{group}/...`).
    public func subscribe(_ filter: String, qos: QoS) async throws(TransportError) {
        try await broker.subscribe(filter, qos: qos, from: self)
    }

    /// Removes a subscription.
    public func unsubscribe(_ filter: String) async throws(TransportError) {
        try await broker.unsubscribe(filter, from: self)
    }

    /// Disconnects cleanly (no last will; a persistent session stays on the broker), fails
    /// pending publishes with `.closed` and finishes both streams.
    public func close() async {
        await broker.close(self)
        messageSink.finish()
        eventSink.finish()
    }
}
