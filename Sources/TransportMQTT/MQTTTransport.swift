import Core

/// `MessageTransport` over MQTT 5 through libmosquitto: the transport agents and the hub use in
/// production (`InMemoryTransport` is its twin for unit tests).
///
/// - Sessions: clean start off by default with a session expiry, so the broker queues QoS 1
///   messages while the client is away; the transport reconnects by itself with jittered
///   exponential backoff and re-applies its subscriptions when the broker has no session.
/// - Publishing: QoS 1 publishes return after PUBACK; up to `inFlightWindow` are pipelined, more
///   wait for room. Unacknowledged publishes survive reconnects (libmosquitto sends them again),
///   so a message may arrive twice; handlers are idempotent. `close()` fails them with `.closed`.
/// - Receiving: `messages` buffers for a slow consumer as `InboundBufferPolicy` describes;
///   messages not yet read when the transport closes are discarded.
/// - Threads: one network thread per transport runs libmosquitto's loop and callbacks.
public final class MQTTTransport: MessageTransport {
    /// The client identifier of this session.
    public let clientID: String
    /// Inbound messages of every subscription, in arrival order (one consumer).
    public let messages: AsyncStream<Message>
    /// Connection changes (one consumer; the newest 256 are kept if nobody reads).
    public let events: AsyncStream<TransportEvent>
    /// The settings this transport was made with.
    public let configuration: Configuration
    let client: MosquittoClient

    /// A transport for `configuration`, validated here; nothing touches the network until
    /// `connect()`.
    public init(configuration: Configuration) throws(TransportError) {
        client = try MosquittoClient(configuration: configuration)
        self.configuration = configuration
        clientID = configuration.clientID
        messages = client.inbound.makeStream()
        events = client.events
    }

    deinit {
        client.requestStop()
    }

    /// Connects and waits for the session. If the attempt fails the error is thrown, and the
    /// transport keeps retrying in the background (`events` reports the connection) until closed.
    public func connect() async throws(TransportError) {
        try await client.connect()
    }

    /// Publishes `message`; see the type's documentation for when it returns.
    public func publish(_ message: Message) async throws(TransportError) {
        try await client.publish(message)
    }

    /// Subscribes to `filter` (also `$share/{group}/...`); returns when the broker agreed, or at
    /// once while disconnected (the subscription is applied on reconnect).
    public func subscribe(_ filter: String, qos: QoS) async throws(TransportError) {
        try await client.subscribe(filter, qos: qos)
    }

    /// Removes a subscription.
    public func unsubscribe(_ filter: String) async throws(TransportError) {
        try await client.unsubscribe(filter)
    }

    /// Disconnects cleanly (no last will; a persistent session stays on the broker), fails
    /// pending publishes with `.closed`, finishes both streams, and returns once the network
    /// thread has ended.
    public func close() async {
        await client.close()
    }

    /// Counters of the transport's flow control and connections.
    public var statistics: Statistics { client.statistics }

    /// A snapshot of the transport's counters.
    public struct Statistics: Sendable, Equatable {
        /// Publishes holding a slot of the in-flight window now.
        public var inFlight: Int
        /// Most slots ever held at once; never above `Configuration.inFlightWindow`.
        public var peakInFlight: Int
        /// Publishes waiting for a slot.
        public var waitingForWindow: Int
        /// Successful connections (1 plus the reconnects).
        public var connections: Int
        /// Received messages not yet read from `messages`.
        public var bufferedInbound: Int
        /// Most received messages buffered at once.
        public var peakBufferedInbound: Int
        /// Times the network thread paused for a slow consumer.
        public var inboundStalls: Int
        /// The broker's Receive Maximum (nil when it sets none, i.e. 65,535).
        public var brokerReceiveMaximum: Int?
    }
}
