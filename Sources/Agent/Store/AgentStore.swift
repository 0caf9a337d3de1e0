import Foundation
import GRDB
import Synchronization

/// The agent's SQLite store: predictions, feedback, the outbox, the update journal, installed
/// models, drift windows and federated state, in one WAL database file.
///
/// One `AgentStore` per file for the life of the process. Predictions go through a batched
/// background writer (`record` never blocks serving); everything else is written directly in
/// transactions. Reads run concurrently with writes (WAL). See `docs/agent-store.md`.
public final class AgentStore: Sendable {
    /// The settings the store was opened with.
    public let configuration: StoreConfiguration
    let pool: DatabasePool
    let writer: StoreWriter
    let pruner: StoragePruner
    /// Signalled whenever the outbox may have new work (labels attached, messages enqueued).
    public let outboxSignal = WorkSignal()
    private let writerTask = Mutex<Task<Void, Never>?>(nil)
    private let closed = Mutex(false)

    /// Opens (creating if needed) the database at `configuration.path`, brings its schema up to
    /// date, and starts the prediction writer.
    public static func open(_ configuration: StoreConfiguration) async throws(StoreError) -> AgentStore {
        try configuration.validate()
        let pool = try makePool(configuration)
        try await migrate(pool, path: configuration.path)
        let store = AgentStore(configuration: configuration, pool: pool)
        store.start()
        return store
    }

    private init(configuration: StoreConfiguration, pool: DatabasePool) {
        self.configuration = configuration
        self.pool = pool
        let pruner = StoragePruner(
            pool: pool, path: configuration.path, budget: configuration.budget, checkInterval: configuration.budgetCheckInterval)
        self.pruner = pruner
        let signal = outboxSignal
        writer = StoreWriter(
            pool: pool, capacity: configuration.predictionQueueCapacity, inputLogging: configuration.inputLogging
        ) { predictions, labels in
            if labels > 0 { signal.notify() }
            await pruner.noteWritten(predictions)
        }
    }

    private func start() {
        let writer = self.writer
        writerTask.withLock { $0 = Task { await writer.run() } }
    }

    /// Writes what is queued, stops the writer and closes the database. Idempotent.
    public func close() async {
        let first = closed.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        writer.shutDown()
        let task = writerTask.withLock { $0 }
        await task?.value
        try? pool.close()
    }

    /// Counters of the writer since the store was opened.
    public var statistics: StoreStatistics { writer.statistics }

    // MARK: - Opening

    private static func makePool(_ configuration: StoreConfiguration) throws(StoreError) -> DatabasePool {
        let directory = URL(fileURLWithPath: configuration.path).deletingLastPathComponent().path
        var grdb = Configuration()
        grdb.label = "starling-agent-store"
        grdb.foreignKeysEnabled = true
        // Reads are rare on a device (feedback lookups go through the writer): two reader
        // connections, each with its own page cache, instead of GRDB's five.
        grdb.maximumReaderCount = 2
        let timeout = configuration.busyTimeout
        grdb.busyMode = .timeout(Double(timeout.components.seconds) + Double(timeout.components.attoseconds) * 1e-18)
        let walLimit = walSizeLimit(configuration.budget)
        grdb.prepareDatabase { db in
            guard !db.configuration.readonly else { return }
            // WAL with synchronous=NORMAL: a commit survives a process crash; a power cut may lose
            // the last transactions but never corrupts the file.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // Only takes effect on a new, empty file; lets pruning give pages back to the disk.
            try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
            try db.execute(sql: "PRAGMA journal_size_limit = \(walLimit)")
            // SQLite's default 2 MiB page cache: 8 MiB made labels about 3 % faster (128 k/s
            // against 124 k/s) but cost 6.5 MiB of RSS while serving (docs/benchmarks.md).
            try db.execute(sql: "PRAGMA cache_size = -2048")
            // Checkpoint once the WAL reaches that size, not at SQLite's default of 4 MB.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(max(16, walLimit / 4096))")
        }
        do {
            if !directory.isEmpty {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            return try DatabasePool(path: configuration.path, configuration: grdb)
        } catch {
            throw StoreError(.openFailed, "cannot open the store database at \(configuration.path)", underlying: error)
        }
    }

    /// The WAL is truncated back to this size after a checkpoint: a quarter of the budget, at
    /// most 4 MiB.
    static func walSizeLimit(_ budget: StorageBudget?) -> Int64 {
        let cap: Int64 = 4 << 20
        guard let budget else { return cap }
        return min(cap, budget.maxBytes / 4)
    }

    private static func migrate(_ pool: DatabasePool, path: String) async throws(StoreError) {
        let migrator = StoreSchema.migrator()
        let superseded: Bool
        do {
            superseded = try await pool.read { db in try migrator.hasBeenSuperseded(db) }
        } catch {
            throw StoreError(.openFailed, "cannot read the schema version of \(path)", underlying: error)
        }
        guard !superseded else {
            throw StoreError(
                .newerSchema,
                "\(path) was written by a newer agent (it has migrations this build does not know); "
                    + "run that agent version or move the file aside")
        }
        do {
            try await migrator.migrate(pool)
        } catch {
            throw StoreError(
                .migrationFailed, "migrating the store at \(path) failed; it keeps its previous schema", underlying: error)
        }
    }

    /// The names of the migrations applied to the database, in order.
    public func appliedMigrations() async throws(StoreError) -> [String] {
        try await StoreError.wrap("reading the applied migrations") {
            try await pool.read { db in try StoreSchema.migrator().appliedMigrations(db) }
        }
    }

    /// The names of every migration this build knows, in order.
    public static var migrationNames: [String] { StoreSchema.migrations.map(\.name) }
}
