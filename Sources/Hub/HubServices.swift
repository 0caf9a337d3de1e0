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
    /// Datasets and training jobs.
    public let training: TrainingService
    /// Devices, groups and the broker's accounts.
    public let fleet: FleetService
    /// Live device status from the broker.
    public let monitor: FleetMonitor
    /// Rollouts: created, commanded and driven.
    public let rollouts: RolloutRunner
    /// Federated rounds: started, driven, registered.
    public let rounds: RoundRunner
    /// The packages served to devices in chunks.
    public let catalog: PackageFileCatalog
    /// The hub's Prometheus metrics (HTTP requests, fleet ingest).
    public let metrics: HubMetrics
    /// The hub's broker connection, if any.
    public let transport: (any MessageTransport)?
    /// Serves package chunks to devices (with a broker connection).
    public let chunkServer: ChunkServer?

    /// Opens the database (migrating it) and the artifact directory, and reads (or, when allowed,
    /// creates) the signing key.
    public static func open(_ configuration: HubConfiguration, transport: (any MessageTransport)? = nil) async throws
        -> HubServices
    {
        try configuration.validate()
        let key = try signingKey(configuration)
        let artifacts = try DirectoryArtifactStore(root: configuration.artifactDirectory)
        let hubPassword = try FleetService.hubPassword(path: configuration.fleet.files.hubPasswordFile)
        let database = try await HubStore.open(path: configuration.databasePath, busyTimeout: configuration.busyTimeout)
        return try HubServices(
            configuration: configuration, database: database, artifacts: artifacts, key: key, hubPassword: hubPassword,
            transport: transport)
    }

    /// Opens only the database and the token service: enough for `starling-hub token`, and no
    /// signing key is read or created.
    public static func openTokens(_ configuration: HubConfiguration) async throws -> (HubStore, TokenService) {
        try configuration.validate()
        let database = try await HubStore.open(path: configuration.databasePath, busyTimeout: configuration.busyTimeout)
        return (database, TokenService(store: SQLiteHubStore(database), now: configuration.now))
    }

    private init(
        configuration: HubConfiguration, database: HubStore, artifacts: DirectoryArtifactStore, key: SigningKey,
        hubPassword: String, transport: (any MessageTransport)?
    ) throws {
        self.configuration = configuration
        self.database = database
        self.artifacts = artifacts
        self.transport = transport
        let store = SQLiteHubStore(database)
        let now = configuration.now
        registry = RegistryService(
            store: store, artifacts: artifacts, signingKey: key, configuration: configuration.registry, now: now)
        tokens = TokenService(store: store, now: now)
        audit = AuditService(store: store)
        training = TrainingService(registry: registry, datasets: store, now: now)
        fleet = try FleetService.make(
            store: store, settings: configuration.fleet, hubPassword: hubPassword, trustRing: [key.publicKey], now: now)
        let metrics = HubMetrics()
        self.metrics = metrics
        monitor = FleetMonitor(transport: transport, store: store, now: now, metrics: metrics.fleet)
        let catalog = PackageFileCatalog()
        self.catalog = catalog
        chunkServer = try transport.map {
            try ChunkServer(transport: $0, catalog: catalog, configuration: configuration.transfer)
        }
        rollouts = RolloutRunner(
            store: store, registry: registry, monitor: monitor, publisher: AssignmentPublisher(key: key, now: now),
            transport: transport, catalog: catalog, artifacts: artifacts, settings: configuration.rollouts, now: now)
        rounds = RoundRunner(
            store: store, registry: registry, monitor: monitor, transport: transport, settings: configuration.rounds, now: now)
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
