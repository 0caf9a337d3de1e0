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
