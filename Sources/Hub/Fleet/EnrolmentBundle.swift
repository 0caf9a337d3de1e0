import Core
import Foundation

/// Where an enrolled device finds its broker, and where the bundle's files go on the device.
public struct BundleSettings: Sendable, Equatable {
    /// The broker host devices connect to.
    public var brokerHost: String
    /// The broker port (8883 for TLS).
    public var brokerPort: Int
    /// The CA file path on the device; TLS is on when set.
    public var caFile: String?
    /// The directory on the device that holds `agent.json`, `mqtt-password` and `trust.json`.
    public var configDirectory: String
    /// The agent's data directory on the device.
    public var dataDirectory: String

    /// Settings with the agent's documented defaults.
    public init(
        brokerHost: String, brokerPort: Int = 8883, caFile: String? = "/etc/starling/ca.pem",
        configDirectory: String = "/etc/starling", dataDirectory: String = "/var/lib/starling"
    ) {
        self.brokerHost = brokerHost
        self.brokerPort = brokerPort
        self.caFile = caFile
        self.configDirectory = configDirectory
        self.dataDirectory = dataDirectory
    }
}

/// What enrolment hands over to a device, once: its agent configuration, its MQTT password and
/// the hub's trust ring. The password is in no other place (the hub keeps only its hash).
///
/// As files (`write(to:)`): `agent.json` (mode 0644), `mqtt-password` (0600, no newline) and
/// `trust.json` (0644), to copy into the device's `configDirectory`. As one JSON document
/// (`document()`): `{"agent.json": {...}, "mqtt-password": "...", "trust.json": {...}}`.
public struct EnrolmentBundle: Sendable, Equatable {
    /// The agent configuration file's shape (keys as `docs/agent.md` documents them).
    public struct AgentFile: Sendable, Equatable, Codable {
        /// `device`.
        public struct DeviceSection: Sendable, Equatable, Codable {
            /// `device.id`.
            public var id: String
            /// `device.groups` (the groups the device matched at enrolment), absent when none.
            public var groups: [String]?
            /// The device's signing key file (federated updates).
            public var keyFile: String?
        }
        /// `profile`.
        public struct ProfileSection: Sendable, Equatable, Codable {
            /// `profile.name`.
            public var name: String
        }
        /// `trust`.
        public struct TrustSection: Sendable, Equatable, Codable {
            /// `trust.ringFile`.
            public var ringFile: String
        }
        /// `mqtt.tls`.
        public struct TLSSection: Sendable, Equatable, Codable {
            /// `mqtt.tls.caFile`.
            public var caFile: String
        }
        /// `mqtt`.
        public struct MQTTSection: Sendable, Equatable, Codable {
            /// `mqtt.host`.
            public var host: String
            /// `mqtt.port`.
            public var port: Int
            /// `mqtt.username` (the device id).
            public var username: String
            /// `mqtt.passwordFile`.
            public var passwordFile: String
            /// `mqtt.tls`, absent without TLS.
            public var tls: TLSSection?
        }

        /// The device section.
        public var device: DeviceSection
        /// The data directory.
        public var dataDirectory: String
        /// The firmware profile.
        public var profile: ProfileSection
        /// The trust ring file.
        public var trust: TrustSection
        /// The broker.
        public var mqtt: MQTTSection
    }

    /// File names inside a bundle directory.
    public static let agentFileName = "agent.json"
    /// The password file's name.
    public static let passwordFileName = "mqtt-password"
    /// The trust ring file's name.
    public static let trustFileName = "trust.json"
    /// The device signing key file's name.
    public static let deviceKeyFileName = "device.key"

    /// The device id.
    public var device: String
    /// The agent configuration.
    public var agent: AgentFile
    /// The MQTT password, in clear: shown once.
    public var password: String
    /// The hub's public keys.
    public var trustRing: [TrustedKey]
    /// The device's signing key file (`SigningKey` JSON, secret): shown once, like the password.
    public var deviceKey: [UInt8]

    /// The bundle for `device` enrolled with `password`, member of `groups`.
    public init(
        device: Device, password: String, groups: [String], trustRing: [TrustedKey], settings: BundleSettings,
        deviceKey: [UInt8] = []
    ) {
        self.device = device.id
        self.password = password
        self.trustRing = trustRing
        self.deviceKey = deviceKey
        let directory =
            settings.configDirectory.hasSuffix("/") ? String(settings.configDirectory.dropLast()) : settings.configDirectory
        agent = AgentFile(
            device: .init(
                id: device.id, groups: groups.isEmpty ? nil : groups.sorted(),
                keyFile: deviceKey.isEmpty ? nil : "\(directory)/\(Self.deviceKeyFileName)"),
            dataDirectory: settings.dataDirectory,
            profile: .init(name: device.profile),
            trust: .init(ringFile: "\(directory)/\(Self.trustFileName)"),
            mqtt: .init(
                host: settings.brokerHost, port: settings.brokerPort, username: device.id,
                passwordFile: "\(directory)/\(Self.passwordFileName)", tls: settings.caFile.map { .init(caFile: $0) }))
    }

    /// `agent.json`'s bytes: pretty JSON with sorted keys.
    public func agentJSON() throws -> [UInt8] {
        try Self.json(agent)
    }

    /// `trust.json`'s bytes: `{"keys": [...]}`, what `TrustRing.read` reads.
    public func trustJSON() throws -> [UInt8] {
        try Self.json(["keys": trustRing])
    }

    /// The whole bundle as one JSON document (for an HTTP response).
    public func document() throws -> [UInt8] {
        struct Document: Encodable {
            var agent: AgentFile
            var password: String
            var trust: [String: [TrustedKey]]
            var key: JSONValue?
            enum CodingKeys: String, CodingKey {
                case agent = "agent.json"
                case password = "mqtt-password"
                case trust = "trust.json"
                case key = "device.key"
            }
        }
        let key = deviceKey.isEmpty ? nil : try JSONDecoder().decode(JSONValue.self, from: Data(deviceKey))
        return try Self.json(Document(agent: agent, password: password, trust: ["keys": trustRing], key: key))
    }

    /// Writes the three files into `directory` (created with mode 0700 when missing).
    public func write(to directory: String) throws(FleetError) {
        do {
            try FileIO.createDirectory(directory, mode: 0o700)
            try FileIO.writeAtomically(try agentJSON(), to: "\(directory)/\(Self.agentFileName)", mode: 0o644)
            try FileIO.writeAtomically(Array(password.utf8), to: "\(directory)/\(Self.passwordFileName)", mode: 0o600)
            try FileIO.writeAtomically(try trustJSON(), to: "\(directory)/\(Self.trustFileName)", mode: 0o644)
            if !deviceKey.isEmpty {
                try FileIO.writeAtomically(deviceKey, to: "\(directory)/\(Self.deviceKeyFileName)", mode: 0o600)
            }
        } catch {
            throw FleetError(.bundleFailed, "cannot write the enrolment bundle to '\(directory)'", underlying: error)
        }
    }

    private static func json(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return Array(try encoder.encode(value)) + [UInt8(ascii: "\n")]
    }
}
