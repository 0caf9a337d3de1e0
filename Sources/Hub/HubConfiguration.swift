import Core
import Foundation

/// Settings of a hub: `Sendable`, with defaults, validated once by `validate()`.
///
/// Everything lives under one data directory by default: `hub.sqlite` (with its WAL),
/// `artifacts/` (content-addressed) and `keys/hub.key` (the package signing key, mode 0600).
public struct HubConfiguration: Sendable {
    /// The data directory.
    public var dataDirectory: String
    /// The SQLite database file; defaults to `<data>/hub.sqlite`.
    public var databasePath: String
    /// The artifact directory; defaults to `<data>/artifacts`.
    public var artifactDirectory: String
    /// The package signing key file; defaults to `<data>/keys/hub.key`.
    public var signingKeyPath: String
    /// Create a signing key at `signingKeyPath` when there is none (a new hub's first start).
    public var createSigningKey: Bool
    /// How long a database connection waits for a lock held by another before failing.
    public var busyTimeout: Duration
    /// Registry settings.
    public var registry: RegistryConfiguration
    /// Where the HTTP API listens.
    public var http: HTTPSettings
    /// The broker's files, how it is reloaded, and what enrolment bundles tell devices.
    public var fleet: FleetSettings
    /// The hub's own broker connection; nil serves the API without one (nothing reaches devices).
    public var mqtt: HubMQTTSettings?
    /// How often rollouts are evaluated.
    public var rollouts: RolloutRunner.Settings
    /// How federated rounds are driven.
    public var rounds: RoundRunner.Settings
    /// How package chunks are served to devices.
    public var transfer: ChunkServer.Configuration
    /// Milliseconds since the Unix epoch; injected so tests control time.
    public var now: @Sendable () -> Int64

    /// A hub in `dataDirectory` with defaults for everything else.
    public init(
        dataDirectory: String, createSigningKey: Bool = true, busyTimeout: Duration = .seconds(5),
        registry: RegistryConfiguration = RegistryConfiguration(), http: HTTPSettings = HTTPSettings(),
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }
    ) {
        self.dataDirectory = dataDirectory
        databasePath = dataDirectory + "/hub.sqlite"
        artifactDirectory = dataDirectory + "/artifacts"
        signingKeyPath = dataDirectory + "/keys/hub.key"
        self.createSigningKey = createSigningKey
        self.busyTimeout = busyTimeout
        self.registry = registry
        self.http = http
        self.now = now
        fleet = FleetSettings(dataDirectory: dataDirectory)
        mqtt = nil
        rollouts = RolloutRunner.Settings()
        rounds = RoundRunner.Settings()
        transfer = ChunkServer.Configuration()
    }

    /// Checks the settings; the error names the key at fault.
    public func validate() throws(HubStoreError) {
        func bad(_ key: String, _ why: String) -> HubStoreError { HubStoreError(.openFailed, "hub.\(key) \(why)") }
        for (key, value) in [
            ("dataDirectory", dataDirectory), ("databasePath", databasePath), ("artifactDirectory", artifactDirectory),
            ("signingKeyPath", signingKeyPath),
        ] where value.isEmpty {
            throw bad(key, "must not be empty")
        }
        guard busyTimeout >= .zero else { throw bad("busyTimeout", "must not be negative") }
        guard (1...19).contains(registry.compressionLevel) else {
            throw bad("registry.compressionLevel", "must be within 1...19, not \(registry.compressionLevel)")
        }
        guard !http.host.isEmpty else { throw bad("http.host", "must not be empty") }
        guard (0...65535).contains(http.port) else { throw bad("http.port", "must be within 0...65535, not \(http.port)") }
        if let mqtt {
            guard !mqtt.host.isEmpty else { throw bad("mqtt.host", "must not be empty") }
            guard (1...65535).contains(mqtt.port) else { throw bad("mqtt.port", "must be within 1...65535, not \(mqtt.port)") }
        }
        guard rollouts.tickInterval > .zero else { throw bad("rollouts.tickSeconds", "must be positive") }
        do {
            try transfer.validate()
        } catch {
            throw bad("transfer", error.message)
        }
        let chunks = registry.limits.minChunkBytes...registry.limits.maxChunkBytes
        guard chunks.contains(registry.chunkSize) else {
            throw bad("registry.chunkSize", "must be within \(chunks), not \(registry.chunkSize)")
        }
    }
}

/// Where the hub's HTTP API listens.
public struct HTTPSettings: Sendable, Equatable {
    /// The address to bind (`127.0.0.1` by default; `0.0.0.0` for every interface).
    public var host: String
    /// The TCP port; 0 picks a free one.
    public var port: Int

    /// Loopback port 8080 unless told otherwise.
    public init(host: String = "127.0.0.1", port: Int = 8080) {
        self.host = host
        self.port = port
    }
}

/// The broker's files the hub keeps in step with its devices, and the enrolment bundle's view of
/// the broker.
public struct FleetSettings: Sendable {
    /// Password file, ACL file and the hub's own password file.
    public var files: BrokerFiles
    /// How the broker is told to re-read them.
    public var reload: BrokerReload
    /// What enrolment bundles tell devices.
    public var bundle: BundleSettings

    /// Files under `dataDirectory/broker`, no reload, bundles pointing at 127.0.0.1:1883 without TLS.
    public init(dataDirectory: String) {
        files = BrokerFiles(dataDirectory: dataDirectory)
        reload = .none
        bundle = BundleSettings(brokerHost: "127.0.0.1", brokerPort: 1883, caFile: nil)
    }
}

/// The hub's own MQTT session: as user `fleet.files.hubUser` with the password in
/// `fleet.files.hubPasswordFile`.
public struct HubMQTTSettings: Sendable, Equatable {
    /// Broker host.
    public var host: String
    /// Broker port.
    public var port: Int
    /// CA file for TLS; nil for a plain connection.
    public var caFile: String?
    /// The session's client id (one per hub replica).
    public var clientID: String
    /// Keep-alive interval.
    public var keepAlive: Duration

    /// Settings.
    public init(host: String, port: Int = 1883, caFile: String? = nil, clientID: String = "starling-hub", keepAlive: Duration = .seconds(30)) {
        self.host = host
        self.port = port
        self.caFile = caFile
        self.clientID = clientID
        self.keepAlive = keepAlive
    }
}
