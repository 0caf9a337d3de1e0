/// Delivery guarantee of a message.
public enum QoS: Int, Sendable, Codable, Comparable {
    /// Fire and forget.
    case atMostOnce = 0
    /// Acknowledged by the broker; may arrive more than once (handlers are idempotent).
    case atLeastOnce = 1

    public static func < (a: QoS, b: QoS) -> Bool { a.rawValue < b.rawValue }
}

/// One publish/subscribe message.
public struct Message: Sendable, Equatable {
    /// The topic it was published to.
    public var topic: String
    /// The body: JSON control messages or binary frames.
    public var payload: [UInt8]
    /// Delivery guarantee.
    public var qos: QoS
    /// Retained by the broker for future subscribers (the last one per topic).
    public var retain: Bool

    /// A message.
    public init(topic: String, payload: [UInt8], qos: QoS = .atLeastOnce, retain: Bool = false) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }
}

/// What happened to a transport's connection.
public enum TransportEvent: Sendable, Equatable {
    /// The session is up; `sessionPresent` when the broker kept it from before (persistent session).
    case connected(sessionPresent: Bool)
    /// The connection dropped; the transport reconnects by itself unless it was closed.
    case disconnected(reason: String)
}

/// Everything that can go wrong talking to a broker.
public struct TransportError: Error, CustomStringConvertible, Sendable {
    /// Kinds of failure, stable for scripts and tests.
    public enum Code: String, Sendable {
        /// Connecting or reconnecting failed (network, TLS, refused).
        case connectionFailed
        /// The broker refused the credentials.
        case notAuthorized
        /// The transport is closed (or closing) and takes no more work.
        case closed
        /// A topic or filter is malformed.
        case invalidTopic
        /// The broker refused a subscription or publish.
        case refused
        /// The message is larger than the transport allows.
        case tooLarge
        /// Anything else from the MQTT library.
        case protocolError
    }

    /// The kind of failure.
    public var code: Code
    /// A sentence a person can act on.
    public var message: String

    /// An error of `code`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// A publish/subscribe session with a broker: MQTT through Mosquitto in production
/// (`MQTTTransport`), an in-memory broker in unit tests (`InMemoryBroker`).
///
/// `publish` returns when the broker has acknowledged a QoS 1 message (or a QoS 0 message was
/// handed to the network); concurrent publishes are pipelined up to the transport's in-flight
/// window, past which `publish` waits for room. Inbound messages arrive on `messages`, in
/// order, for every subscription; connection changes on `events`.
public protocol MessageTransport: AnyObject, Sendable {
    /// The client identifier of this session.
    var clientID: String { get }
    /// Inbound messages of every subscription (one consumer).
    var messages: AsyncStream<Message> { get }
    /// Connection changes (one consumer).
    var events: AsyncStream<TransportEvent> { get }
    /// Connects and waits until the session is up (or throws).
    func connect() async throws(TransportError)
    /// Publishes `message` (see the type's documentation for when it returns).
    func publish(_ message: Message) async throws(TransportError)
    /// Subscribes to a topic filter (`+` one level, `#` the rest); returns once the broker agreed.
    func subscribe(_ filter: String, qos: QoS) async throws(TransportError)
    /// Removes a subscription.
    func unsubscribe(_ filter: String) async throws(TransportError)
    /// Closes the session for good; pending publishes fail with `.closed`, streams finish.
    func close() async
}
