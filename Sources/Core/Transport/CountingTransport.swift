import Synchronization

/// The sizes of the MQTT 5 packets that carry a `Message`, as a client writes and reads them
/// (no properties; libmosquitto sends none for these publishes).
public enum MQTTPacketSize {
    /// A PUBLISH packet: fixed header byte, remaining length, topic (2-byte length + UTF-8),
    /// packet identifier (QoS 1 only), an empty property length, then the payload.
    public static func publish(topic: String, payloadCount: Int, qos: QoS) -> Int {
        let remaining = 2 + topic.utf8.count + (qos == .atLeastOnce ? 2 : 0) + 1 + payloadCount
        return 1 + variableByteIntegerSize(remaining) + remaining
    }

    /// A PUBACK for a successful QoS 1 publish: fixed header (2 bytes) and packet identifier; the
    /// reason code and properties are left out when the reason is success.
    public static let puback = 4

    /// Bytes of MQTT's variable byte integer encoding of `value` (7 bits per byte).
    static func variableByteIntegerSize(_ value: Int) -> Int {
        switch value {
        case ..<128: 1
        case ..<16_384: 2
        case ..<2_097_152: 3
        default: 4
        }
    }
}

/// What a `CountingTransport` has seen, in MQTT packet bytes.
public struct TrafficCount: Sendable, Equatable {
    /// PUBLISH packets sent, and PUBACKs sent for QoS 1 messages received.
    public var bytesSent = 0
    /// PUBLISH packets received, and PUBACKs received for QoS 1 messages sent.
    public var bytesReceived = 0
    /// Messages published.
    public var messagesSent = 0
    /// Messages received.
    public var messagesReceived = 0
    /// Payload bytes published (without MQTT framing).
    public var payloadSent = 0
    /// Payload bytes received (without MQTT framing).
    public var payloadReceived = 0

    /// A zero count.
    public init() {}

    /// The difference `self - earlier`, counter by counter.
    public func since(_ earlier: TrafficCount) -> TrafficCount {
        var d = TrafficCount()
        d.bytesSent = bytesSent - earlier.bytesSent
        d.bytesReceived = bytesReceived - earlier.bytesReceived
        d.messagesSent = messagesSent - earlier.messagesSent
        d.messagesReceived = messagesReceived - earlier.messagesReceived
        d.payloadSent = payloadSent - earlier.payloadSent
        d.payloadReceived = payloadReceived - earlier.payloadReceived
        return d
    }
}

/// A transport that counts the publish traffic of the transport it wraps, in the sizes of the
/// MQTT packets that carry it, both ways: what a device's radio would send and receive for the
/// application's messages (connection set-up, pings and subscriptions are not counted).
public final class CountingTransport: MessageTransport {
    /// The wrapped session.
    public let inner: any MessageTransport
    private let traffic = Counter()
    private let forwarding: Task<Void, Never>

    public var clientID: String { inner.clientID }
    public let messages: AsyncStream<Message>
    public var events: AsyncStream<TransportEvent> { inner.events }

    /// Counts `inner`'s traffic; take its messages from this transport from now on.
    public init(_ inner: any MessageTransport) {
        self.inner = inner
        let (stream, continuation) = AsyncStream<Message>.makeStream()
        messages = stream
        let traffic = traffic
        let source = inner.messages
        forwarding = Task {
            for await message in source {
                traffic.state.withLock { count in
                    count.messagesReceived += 1
                    count.payloadReceived += message.payload.count
                    count.bytesReceived += MQTTPacketSize.publish(
                        topic: message.topic, payloadCount: message.payload.count, qos: message.qos)
                    if message.qos == .atLeastOnce { count.bytesSent += MQTTPacketSize.puback }
                }
                continuation.yield(message)
            }
            continuation.finish()
        }
    }

    deinit { forwarding.cancel() }

    /// The traffic so far.
    public var count: TrafficCount { traffic.state.withLock { $0 } }

    public func connect() async throws(TransportError) { try await inner.connect() }

    public func publish(_ message: Message) async throws(TransportError) {
        try await inner.publish(message)
        traffic.state.withLock { count in
            count.messagesSent += 1
            count.payloadSent += message.payload.count
            count.bytesSent += MQTTPacketSize.publish(topic: message.topic, payloadCount: message.payload.count, qos: message.qos)
            if message.qos == .atLeastOnce { count.bytesReceived += MQTTPacketSize.puback }
        }
    }

    public func subscribe(_ filter: String, qos: QoS) async throws(TransportError) {
        try await inner.subscribe(filter, qos: qos)
    }

    public func unsubscribe(_ filter: String) async throws(TransportError) { try await inner.unsubscribe(filter) }

    public func close() async { await inner.close() }
}

/// The shared count (the forwarding task and the publishers update it).
private final class Counter: Sendable {
    let state = Mutex(TrafficCount())
}
