import Core
import Foundation
import GRDB

/// The hub's SQLite database file: one WAL `DatabasePool` with foreign keys on, its schema
/// brought up to date by `HubSchema`'s named migrations.
///
/// One `HubStore` per file for the life of the process. Domain code does not use it directly:
/// it talks to `RegistryStore`, `TokenStore` and `AuditStore`, which `SQLiteHubStore`
/// implements on top of it.
public final class HubStore: Sendable {
    /// The database file.
    public let path: String
    let pool: DatabasePool

    /// Opens (creating if needed) the database at `path` and migrates it.
    public static func open(path: String, busyTimeout: Duration = .seconds(5)) async throws(HubStoreError) -> HubStore {
        let pool = try makePool(path: path, busyTimeout: busyTimeout)
        try await migrate(pool, path: path)
        return HubStore(path: path, pool: pool)
    }

    private init(path: String, pool: DatabasePool) {
        self.path = path
        self.pool = pool
    }

    /// Closes the database; later calls fail.
    public func close() {
        try? pool.close()
    }

    /// The names of the migrations applied to the database, in order.
    public func appliedMigrations() async throws(HubStoreError) -> [String] {
        try await HubStoreError.wrap("reading the applied migrations") {
            try await pool.read { db in try HubSchema.migrator().appliedMigrations(db) }
        }
    }

    /// The names of every migration this build knows, in order.
    public static var migrationNames: [String] { HubSchema.migrations.map(\.name) }

    // MARK: - Opening

    private static func makePool(path: String, busyTimeout: Duration) throws(HubStoreError) -> DatabasePool {
        var grdb = Configuration()
        grdb.label = "starling-hub-store"
        grdb.foreignKeysEnabled = true
        grdb.busyMode = .timeout(
            Double(busyTimeout.components.seconds) + Double(busyTimeout.components.attoseconds) * 1e-18)
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            if !directory.isEmpty { try FileIO.createDirectory(directory, mode: 0o700) }
            let pool = try DatabasePool(path: path, configuration: grdb)
            // A registry change is rare and precious: FULL makes a commit survive a power cut too.
            // Set on the (single, long-lived) writer connection after GRDB put it in WAL with NORMAL.
            try pool.barrierWriteWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            return pool
        } catch {
            throw HubStoreError(.openFailed, "cannot open the hub database at \(path)", underlying: error)
        }
    }

    private static func migrate(_ pool: DatabasePool, path: String) async throws(HubStoreError) {
        let migrator = HubSchema.migrator()
        let superseded: Bool
        do {
            superseded = try await pool.read { db in try migrator.hasBeenSuperseded(db) }
        } catch {
            throw HubStoreError(.openFailed, "cannot read the schema version of \(path)", underlying: error)
        }
        guard !superseded else {
            throw HubStoreError(
                .newerSchema,
                "\(path) was written by a newer hub (it has migrations this build does not know); "
                    + "run that hub version or restore a backup")
        }
        do {
            try await migrator.migrate(pool)
        } catch {
            throw HubStoreError(
                .migrationFailed, "migrating the hub database at \(path) failed; it keeps its previous schema",
                underlying: error)
        }
    }

    // MARK: - Access for the SQLite stores

    /// Runs `body` in one write transaction, classifying failures as `what`.
    func write<T: Sendable>(_ what: String, _ body: @escaping @Sendable (Database) throws -> T) async throws(HubStoreError)
        -> T
    {
        try await HubStoreError.wrap(what) { try await pool.write(body) }
    }

    /// Runs `body` on a read-only snapshot, classifying failures as `what`.
    func read<T: Sendable>(_ what: String, _ body: @escaping @Sendable (Database) throws -> T) async throws(HubStoreError)
        -> T
    {
        try await HubStoreError.wrap(what) { try await pool.read(body) }
    }
}
