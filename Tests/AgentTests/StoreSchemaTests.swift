import GRDB
import Testing

@testable import Agent

@Suite("Store schema")
struct StoreSchemaTests {
    /// The shipped migrations. Append new names at the end; never edit, rename or remove one.
    static let shippedMigrations = [
        "001-predictions",
        "002-feedback",
        "003-outbox",
        "004-update-journal",
        "005-installed-models",
        "006-drift-windows",
        "007-federated-rounds",
        "008-assignments",
        "009-network-usage",
    ]

    @Test("the migration list is append-only: the shipped names are its prefix, in order")
    func migrationsAreAppendOnly() {
        let names = AgentStore.migrationNames
        #expect(Array(names.prefix(Self.shippedMigrations.count)) == Self.shippedMigrations)
        #expect(Set(names).count == names.count)
    }

    @Test("a new file gets every migration, WAL, synchronous=NORMAL, foreign keys and incremental vacuum")
    func freshDatabase() async throws {
        try await withStore { store, _ in
            #expect(try await store.appliedMigrations() == AgentStore.migrationNames)
            let pragmas = try await store.pool.write { db in
                try [
                    String.fetchOne(db, sql: "PRAGMA journal_mode"),
                    String(Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1),
                    String(Int.fetchOne(db, sql: "PRAGMA foreign_keys") ?? -1),
                    String(Int.fetchOne(db, sql: "PRAGMA auto_vacuum") ?? -1),
                ]
            }
            #expect(pragmas == ["wal", "1", "1", "2"])
        }
    }

    @Test("a file of an older agent is migrated forward and keeps its rows")
    func olderDatabaseMigrates() async throws {
        try await withTemporaryDirectory { directory in
            let path = "\(directory)/old.sqlite"
            let old = try DatabaseQueue(path: path)
            try StoreSchema.migrator(upTo: 3).migrate(old)
            try await old.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO predictions (request_id, time, model_name, model_version, inputs, input_digest, outputs, latency_us)
                        VALUES ('old-1', 1, 'digits', '0.9.0', '[1]', ?, '[0]', 10)
                        """, arguments: [String(repeating: "a", count: 64)])
            }
            try old.close()

            let store = try await AgentStore.open(StoreConfiguration(path: path))
            #expect(try await store.appliedMigrations() == AgentStore.migrationNames)
            #expect(try await store.prediction("old-1")?.modelVersion == "0.9.0")
            await store.close()
        }
    }

    @Test("a file written by a newer agent is refused with newerSchema")
    func newerDatabaseRefused() async throws {
        try await withTemporaryDirectory { directory in
            let path = "\(directory)/new.sqlite"
            let newer = try DatabaseQueue(path: path)
            var migrator = StoreSchema.migrator()
            migrator.registerMigration("999-from-the-future") { db in
                try db.execute(sql: "CREATE TABLE future (x INTEGER)")
            }
            try migrator.migrate(newer)
            try newer.close()

            let error = await #expect(throws: StoreError.self) { try await AgentStore.open(StoreConfiguration(path: path)) }
            #expect(error?.code == .newerSchema)
        }
    }

    @Test("the update journal refuses updates and deletes")
    func journalIsAppendOnly() async throws {
        try await withStore { store, _ in
            try await store.appendJournal(packageID: "pkg", from: nil, to: "downloading")
            for sql in ["UPDATE update_journal SET to_state = 'committed'", "DELETE FROM update_journal"] {
                let error = await #expect(throws: DatabaseError.self) {
                    try await store.pool.write { db in try db.execute(sql: sql) }
                }
                #expect(error?.message?.contains("append-only") == true)
            }
            #expect(try await store.journalEntries().count == 1)
        }
    }

    @Test("a prediction with unsent feedback cannot be deleted, even by hand")
    func unsentFeedbackProtected() async throws {
        try await withStore { (store, _) async throws in
            await recordAndFlush(store, 0..<2)
            #expect(try await store.attachFeedback(predictionID: "req-0", label: "3", time: 5) == .attached)
            let error = await #expect(throws: DatabaseError.self) {
                try await store.pool.write { db in try db.execute(sql: "DELETE FROM predictions") }
            }
            #expect(error?.message?.contains("unsent feedback") == true)
            #expect(try await store.predictionCount() == 2)
        }
    }

    /// Settings `validate()` must refuse, each named by its key.
    enum BadSetting: String, CaseIterable {
        case predictionQueueCapacity, budgetMaxBytes, budgetTargetFraction, budgetCheckInterval

        var key: String {
            switch self {
            case .predictionQueueCapacity: "store.predictionQueueCapacity"
            case .budgetMaxBytes: "store.budget.maxBytes"
            case .budgetTargetFraction: "store.budget.targetFraction"
            case .budgetCheckInterval: "store.budgetCheckInterval"
            }
        }

        func apply(to configuration: inout StoreConfiguration) {
            switch self {
            case .predictionQueueCapacity: configuration.predictionQueueCapacity = 0
            case .budgetMaxBytes: configuration.budget = StorageBudget(maxBytes: 1000)
            case .budgetTargetFraction: configuration.budget = StorageBudget(maxBytes: 1 << 20, targetFraction: 0)
            case .budgetCheckInterval: configuration.budgetCheckInterval = 0
            }
        }
    }

    @Test("bad settings are refused with the key named", arguments: BadSetting.allCases)
    func badConfiguration(setting: BadSetting) {
        var configuration = StoreConfiguration(path: "/nonexistent/agent.sqlite")
        #expect(throws: Never.self) { try configuration.validate() }
        setting.apply(to: &configuration)
        let error = #expect(throws: StoreError.self) { try configuration.validate() }
        #expect(error?.code == .openFailed)
        #expect(error?.message.contains(setting.key) == true)
    }
}
