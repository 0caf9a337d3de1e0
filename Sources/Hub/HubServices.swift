import Core

/// A hub's storage and services, opened from one configuration: what `starling-hub` (and,
/// later, its HTTP API) runs on.
public final class HubServices: Sendable {
    /// The settings it was opened with.
    public let configuration: HubConfiguration
    /// The SQLite database.
    public let database: HubStore
    /// The artifact store.
    public let artifacts: DirectoryArtifactStore
    /// The model registry.
    public let registry: RegistryService
    /// API tokens.
    public let tokens: TokenService
    /// The audit log.
    public let audit: AuditService

    /// Opens the database (migrating it) and the artifact directory, and reads (or, when allowed,
    /// creates) the signing key.
    public static func open(_ configuration: HubConfiguration) async throws -> HubServices {
        try configuration.validate()
        let key = try signingKey(configuration)
        let artifacts = try DirectoryArtifactStore(root: configuration.artifactDirectory)
        let database = try await HubStore.open(path: configuration.databasePath, busyTimeout: configuration.busyTimeout)
        return HubServices(configuration: configuration, database: database, artifacts: artifacts, key: key)
    }

    /// Opens only the database and the token service: enough for `starling-hub token`, and no
    /// signing key is read or created.
    public static func openTokens(_ configuration: HubConfiguration) async throws -> (HubStore, TokenService) {
        try configuration.validate()
        let database = try await HubStore.open(path: configuration.databasePath, busyTimeout: configuration.busyTimeout)
        return (database, TokenService(store: SQLiteHubStore(database), now: configuration.now))
    }

    private init(configuration: HubConfiguration, database: HubStore, artifacts: DirectoryArtifactStore, key: SigningKey) {
        self.configuration = configuration
        self.database = database
        self.artifacts = artifacts
        let store = SQLiteHubStore(database)
        registry = RegistryService(
            store: store, artifacts: artifacts, signingKey: key, configuration: configuration.registry, now: configuration.now)
        tokens = TokenService(store: store, now: configuration.now)
        audit = AuditService(store: store)
    }

    /// Closes the database.
    public func close() {
        database.close()
    }

    private static func signingKey(_ configuration: HubConfiguration) throws -> SigningKey {
        let path = configuration.signingKeyPath
        if FileIO.exists(path) || !configuration.createSigningKey { return try SigningKey.read(path: path) }
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        try FileIO.createDirectory(directory, mode: 0o700)
        let seconds = configuration.now() / 1000
        let key = SigningKey.generate(name: "hub-" + String(PackageManifest.timestamp(secondsSince1970: seconds).prefix(7)))
        try key.write(to: path)
        return key
    }
}
