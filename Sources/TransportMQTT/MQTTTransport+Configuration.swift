import Core

extension MQTTTransport {
    /// How to reach a broker and what session to keep there (MQTT 5 CONNECT settings plus the
    /// transport's own flow control).
    public struct Configuration: Sendable {
        /// Broker host name or address.
        public var host: String
        /// Broker port (1883 plain, 8883 TLS by convention).
        public var port: Int
        /// The session's client identifier; for devices, the device id.
        public var clientID: String
        /// TLS settings; nil for a plain TCP connection.
        public var tls: TLS?
        /// User name checked against the broker's password file (devices: the device id).
        public var username: String?
        /// Password for `username`. Never logged.
        public var password: String?
        /// Start a fresh session instead of resuming the broker's stored one.
        public var cleanStart: Bool
        /// How long the broker keeps the session (subscriptions, queued QoS 1 messages) after
        /// the connection ends, at most `UInt32.max` seconds.
        public var sessionExpiry: Duration
        /// Published by the broker when the connection ends without a clean close.
        public var will: Message?
        /// Keep-alive interval: 0 (off) or at least 5 seconds.
        public var keepAlive: Duration
        /// Delays between reconnection attempts.
        public var reconnect: ReconnectBackoff
        /// Sets TCP_NODELAY on the socket: pipelined QoS 1 needs it (Nagle holds back small packets).
        public var tcpNoDelay: Bool
        /// QoS 1 publishes sent and not yet acknowledged, at most; more wait in `publish`
        /// (1...65535). The broker may lower it with its Receive Maximum.
        public var inFlightWindow: Int
        /// QoS 1 deliveries the broker may have in flight to this client (MQTT Receive Maximum).
        public var receiveMaximum: Int
        /// Largest MQTT packet this client sends or accepts, in bytes; nil for MQTT's maximum.
        public var maxPacketSize: Int?
        /// How many received messages wait for the consumer before the network thread pauses.
        public var inboundBuffer: InboundBufferPolicy

        /// A configuration with production defaults: persistent session kept for a week,
        /// 30 s keep-alive, backoff from 0.5 s to 30 s, TCP_NODELAY, a window of 100.
        public init(
            host: String = "127.0.0.1", port: Int = 1883, clientID: String, tls: TLS? = nil,
            username: String? = nil, password: String? = nil, cleanStart: Bool = false,
            sessionExpiry: Duration = .seconds(7 * 24 * 3600), will: Message? = nil,
            keepAlive: Duration = .seconds(30), reconnect: ReconnectBackoff = ReconnectBackoff(),
            tcpNoDelay: Bool = true, inFlightWindow: Int = 100, receiveMaximum: Int = 100,
            maxPacketSize: Int? = nil, inboundBuffer: InboundBufferPolicy = InboundBufferPolicy()
        ) {
            self.host = host
            self.port = port
            self.clientID = clientID
            self.tls = tls
            self.username = username
            self.password = password
            self.cleanStart = cleanStart
            self.sessionExpiry = sessionExpiry
            self.will = will
            self.keepAlive = keepAlive
            self.reconnect = reconnect
            self.tcpNoDelay = tcpNoDelay
            self.inFlightWindow = inFlightWindow
            self.receiveMaximum = receiveMaximum
            self.maxPacketSize = maxPacketSize
            self.inboundBuffer = inboundBuffer
        }

        /// Checks every setting; the error names the offending key.
        public func validate() throws(TransportError) {
            func fail(_ key: String, _ why: String) -> TransportError {
                TransportError(.protocolError, "MQTT configuration '\(key)': \(why)")
            }
            guard !host.isEmpty else { throw fail("host", "must not be empty") }
            guard (1...65_535).contains(port) else { throw fail("port", "must be 1...65535, got \(port)") }
            guard !clientID.isEmpty, clientID.utf8.count <= 65_535, !clientID.utf8.contains(0) else {
                throw fail("clientID", "must be non-empty, at most 65535 bytes, without NUL")
            }
            if password != nil && username == nil {
                throw fail("username", "a password needs a user name")
            }
            guard sessionExpiry >= .zero, sessionExpiry.seconds <= Int64(UInt32.max) else {
                throw fail("sessionExpiry", "must be 0...\(UInt32.max) seconds")
            }
            let keepAliveSeconds = keepAlive.seconds
            guard keepAliveSeconds == 0 || (5...65_535).contains(keepAliveSeconds) else {
                throw fail("keepAlive", "must be 0 (off) or 5...65535 seconds, got \(keepAliveSeconds)")
            }
            guard (1...65_535).contains(inFlightWindow) else {
                throw fail("inFlightWindow", "must be 1...65535, got \(inFlightWindow)")
            }
            guard (1...65_535).contains(receiveMaximum) else {
                throw fail("receiveMaximum", "must be 1...65535, got \(receiveMaximum)")
            }
            if let maxPacketSize, !(64...268_435_460).contains(maxPacketSize) {
                throw fail("maxPacketSize", "must be 64...268435460 bytes, got \(maxPacketSize)")
            }
            if let will {
                do { try TopicFilter.validateTopicName(will.topic) } catch { throw fail("will.topic", error.message) }
            }
            try reconnect.validate()
            try inboundBuffer.validate()
            if let tls, tls.certificateFile == nil, tls.keyFile != nil {
                throw fail("tls.keyFile", "a client key needs a client certificate")
            }
            if let tls, tls.certificateFile != nil, tls.keyFile == nil {
                throw fail("tls.certificateFile", "a client certificate needs its key file")
            }
        }
    }

    /// TLS settings of a connection.
    public struct TLS: Sendable {
        /// PEM file of the certificate authorities that may sign the broker's certificate.
        public var caFile: String
        /// PEM client certificate, for brokers that require one.
        public var certificateFile: String?
        /// PEM private key of `certificateFile`.
        public var keyFile: String?
        /// Skips the host name check of the broker certificate. Tests only: it makes the
        /// connection open to impersonation.
        public var insecureSkipHostnameCheck: Bool

        /// TLS trusting `caFile`, with an optional client certificate.
        public init(caFile: String, certificateFile: String? = nil, keyFile: String? = nil, insecureSkipHostnameCheck: Bool = false) {
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.insecureSkipHostnameCheck = insecureSkipHostnameCheck
        }
    }
}

extension Duration {
    /// Whole seconds, rounded down.
    var seconds: Int64 { components.seconds }
}
