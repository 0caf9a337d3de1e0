/// A `mosquitto.conf` for Mosquitto 2.0: listeners, authentication, persistence and the queue
/// limits a fleet's QoS 1 traffic needs. Pure text generation; `MosquittoProcess` runs it.
///
/// Why the limits differ from Mosquitto's defaults (see docs/broker.md):
/// - `max_queued_messages` defaults to 1000 per client and silently drops QoS 1 messages past
///   it, also for a connected subscriber that is merely slower than its publishers. Here it is
///   0 (no count limit) and `max_queued_bytes` bounds each client's queue in bytes instead.
/// - `max_inflight_messages` (broker to client, default 20) is raised so that a subscriber's
///   Receive Maximum, not the broker, sets the pipelining depth.
/// - `message_size_limit` refuses oversized payloads with a PUBACK error (MQTT 5) instead of
///   the disconnect `max_packet_size` would cause.
public struct MosquittoConfiguration: Sendable, Equatable {
    /// One `listener` block.
    public struct Listener: Sendable, Equatable {
        /// TCP port.
        public var port: Int
        /// Address to bind, e.g. `127.0.0.1`; nil for all interfaces.
        public var bindAddress: String?
        /// TLS settings; nil for plain TCP.
        public var tls: TLS?

        /// A listener on `port`.
        public init(port: Int, bindAddress: String? = nil, tls: TLS? = nil) {
            self.port = port
            self.bindAddress = bindAddress
            self.tls = tls
        }

        /// A plain listener reachable only from this machine (tests, a co-located hub).
        public static func loopback(port: Int) -> Listener {
            Listener(port: port, bindAddress: "127.0.0.1")
        }
    }

    /// Certificates of a TLS listener (PEM files).
    public struct TLS: Sendable, Equatable {
        /// CA certificates that sign client certificates (and the chain clients trust).
        public var caFile: String
        /// The broker's certificate.
        public var certificateFile: String
        /// The broker's private key.
        public var keyFile: String
        /// Clients must present a certificate signed by `caFile`.
        public var requireClientCertificate: Bool

        /// TLS with the broker's certificate and key.
        public init(caFile: String, certificateFile: String, keyFile: String, requireClientCertificate: Bool = false) {
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.requireClientCertificate = requireClientCertificate
        }
    }

    /// The listeners.
    public var listeners: [Listener]
    /// Path of the password file; nil with `allowAnonymous` only.
    public var passwordFile: String?
    /// Path of the ACL file; nil grants every authenticated client everything.
    public var aclFile: String?
    /// Accept clients without a user name (never in production).
    public var allowAnonymous: Bool
    /// Directory of `mosquitto.db`; nil turns persistence off.
    public var persistenceLocation: String?
    /// Seconds between saves of the in-memory state (sessions, queues, retained messages).
    public var autosaveInterval: Int
    /// Sessions of clients that never return are dropped after this (`30d`, `12h`; nil: never).
    public var persistentClientExpiration: String?
    /// QoS 1 messages in flight from the broker to one client (0: no limit).
    public var maxInflightMessages: Int
    /// QoS 1 messages queued per client beyond those in flight (0: no count limit).
    public var maxQueuedMessages: Int
    /// Bytes queued per client beyond those in flight (0: no limit); past it, messages drop.
    public var maxQueuedBytes: Int
    /// Largest payload accepted, in bytes (0: MQTT's maximum).
    public var messageSizeLimit: Int
    /// Sets TCP_NODELAY on client sockets, so PUBACKs of pipelined publishes go out at once.
    public var tcpNoDelay: Bool
    /// `log_dest` lines, e.g. `stderr`, `file /var/log/mosquitto/mosquitto.log`.
    public var logDestinations: [String]
    /// `log_type` lines.
    public var logTypes: [String]
    /// User to run as when started as root; nil keeps Mosquitto's default (`mosquitto`).
    public var user: String?
    /// Lines appended verbatim.
    public var extraLines: [String]

    /// A configuration with the fleet's defaults (persistence on, no anonymous clients, no
    /// count limit on queues and 64 MiB per client, 16 MiB messages).
    public init(
        listeners: [Listener], passwordFile: String? = nil, aclFile: String? = nil, allowAnonymous: Bool = false,
        persistenceLocation: String? = nil, autosaveInterval: Int = 60, persistentClientExpiration: String? = "30d",
        maxInflightMessages: Int = 1000, maxQueuedMessages: Int = 0, maxQueuedBytes: Int = 64 << 20,
        messageSizeLimit: Int = 16 << 20, tcpNoDelay: Bool = true, logDestinations: [String] = ["stderr"],
        logTypes: [String] = ["error", "warning", "notice", "information"], user: String? = nil, extraLines: [String] = []
    ) {
        self.listeners = listeners
        self.passwordFile = passwordFile
        self.aclFile = aclFile
        self.allowAnonymous = allowAnonymous
        self.persistenceLocation = persistenceLocation
        self.autosaveInterval = autosaveInterval
        self.persistentClientExpiration = persistentClientExpiration
        self.maxInflightMessages = maxInflightMessages
        self.maxQueuedMessages = maxQueuedMessages
        self.maxQueuedBytes = maxQueuedBytes
        self.messageSizeLimit = messageSizeLimit
        self.tcpNoDelay = tcpNoDelay
        self.logDestinations = logDestinations
        self.logTypes = logTypes
        self.user = user
        self.extraLines = extraLines
    }

    /// The text of `mosquitto.conf`; throws for values that would break its line format.
    public func render() throws(MosquittoError) -> String {
        guard !listeners.isEmpty else { throw MosquittoError(.invalidInput, "a broker configuration needs a listener") }
        guard passwordFile != nil || allowAnonymous else {
            throw MosquittoError(.invalidInput, "without anonymous clients the broker needs a password file")
        }
        var lines = ["# Starling broker configuration, generated (TransportMQTT.MosquittoConfiguration).", ""]
        lines.append("per_listener_settings false")
        lines.append("allow_anonymous \(allowAnonymous)")
        if let passwordFile { lines.append("password_file \(try Self.path(passwordFile))") }
        if let aclFile { lines.append("acl_file \(try Self.path(aclFile))") }
        if let user { lines.append("user \(try Self.value(user))") }
        lines.append("")
        if let persistenceLocation {
            let location = try Self.path(persistenceLocation)
            lines.append("persistence true")
            lines.append("persistence_location \(location.hasSuffix("/") ? location : location + "/")")
            lines.append("autosave_interval \(autosaveInterval)")
        } else {
            lines.append("persistence false")
        }
        if let persistentClientExpiration { lines.append("persistent_client_expiration \(try Self.value(persistentClientExpiration))") }
        lines.append("max_inflight_messages \(maxInflightMessages)")
        lines.append("max_queued_messages \(maxQueuedMessages)")
        lines.append("max_queued_bytes \(maxQueuedBytes)")
        lines.append("message_size_limit \(messageSizeLimit)")
        lines.append("set_tcp_nodelay \(tcpNoDelay)")
        lines.append("")
        for destination in logDestinations { lines.append("log_dest \(try Self.value(destination))") }
        for type in logTypes { lines.append("log_type \(try Self.value(type))") }
        lines.append("log_timestamp_format %Y-%m-%dT%H:%M:%S")
        for listener in listeners {
            lines.append("")
            guard (0...65_535).contains(listener.port) else {
                throw MosquittoError(.invalidInput, "listener port \(listener.port) is not 0...65535")
            }
            if let address = listener.bindAddress {
                lines.append("listener \(listener.port) \(try Self.value(address))")
            } else {
                lines.append("listener \(listener.port)")
            }
            lines.append("protocol mqtt")
            if let tls = listener.tls {
                lines.append("cafile \(try Self.path(tls.caFile))")
                lines.append("certfile \(try Self.path(tls.certificateFile))")
                lines.append("keyfile \(try Self.path(tls.keyFile))")
                lines.append("require_certificate \(tls.requireClientCertificate)")
                lines.append("tls_version tlsv1.2")
            }
        }
        lines.append(contentsOf: extraLines)
        return lines.joined(separator: "\n") + "\n"
    }

    /// A path as Mosquitto reads it: the rest of the line, so no line breaks or NUL.
    static func path(_ path: String) throws(MosquittoError) -> String {
        guard !path.isEmpty, !path.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\0" }),
            path.first != " ", path.last != " "
        else { throw MosquittoError(.invalidInput, "the path '\(path)' cannot go into mosquitto.conf") }
        return path
    }

    /// A single-word value.
    static func value(_ value: String) throws(MosquittoError) -> String {
        guard !value.isEmpty, !value.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\0" }) else {
            throw MosquittoError(.invalidInput, "the value '\(value)' cannot go into mosquitto.conf")
        }
        return value
    }
}
