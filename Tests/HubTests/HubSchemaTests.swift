import GRDB
import Testing

@testable import Hub

@Suite("Hub schema")
struct HubSchemaTests {
    /// The shipped migrations. Append new names at the end; never edit, rename or remove one.
    static let shippedMigrations = [
        "001-models",
        "002-versions",
        "003-version-tags",
        "004-aliases",
        "005-approvals",
        "006-tokens",
        "007-audit-log",
        "008-devices",
        "009-device-groups",
        "010-device-status",
        "011-rollouts",
        "012-rollout-events",
        "013-datasets",
        "014-federated-rounds",
    ]

    @Test("the migration list is append-only: the shipped names are its prefix, in order")
    func migrationsAreAppendOnly() {
        let names = HubStore.migrationNames
        #expect(Array(names.prefix(Self.shippedMigrations.count)) == Self.shippedMigrations)
        #expect(Set(names).count == names.count)
    }

    @Test("a new file gets every migration, WAL, synchronous=FULL and foreign keys")
    func freshDatabase() async throws {
        try await withHub { hub in
            #expect(try await hub.services.database.appliedMigrations() == HubStore.migrationNames)
            let pragmas = try await hub.services.database.pool.write { db in
                try [
                    String.fetchOne(db, sql: "PRAGMA journal_mode"),
                    String(Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1),
                    String(Int.fetchOne(db, sql: "PRAGMA foreign_keys") ?? -1),
                ]
            }
            #expect(pragmas == ["wal", "2", "1"])
        }
    }

    @Test("a file of an older hub is migrated forward and keeps its rows")
    func olderDatabaseMigrates() async throws {
        try await withTemporaryDirectory { directory in
            let path = "\(directory)/old.sqlite"
            let old = try DatabaseQueue(path: path)
            try HubSchema.migrator(upTo: 1).migrate(old)
            try await old.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO models (name, owner, four_eyes, created_at, created_by)
                        VALUES ('legacy', 'ops', 1, 1, 'ops')
                        """)
            }
            try old.close()
            let store = try await HubStore.open(path: path)
            defer { store.close() }
            #expect(try await store.appliedMigrations() == HubStore.migrationNames)
            #expect(try await SQLiteHubStore(store).model(named: "legacy")?.owner == "ops")
        }
    }

    @Test("a file written by a newer hub is refused with newerSchema")
    func newerDatabaseRefused() async throws {
        try await withTemporaryDirectory { directory in
            let path = "\(directory)/new.sqlite"
            let newer = try DatabaseQueue(path: path)
            var migrator = HubSchema.migrator()
            migrator.registerMigration("999-from-the-future") { db in try db.execute(sql: "CREATE TABLE future (x INTEGER)") }
            try migrator.migrate(newer)
            try newer.close()
            let error = await #expect(throws: HubStoreError.self) { try await HubStore.open(path: path) }
            #expect(error?.code == .newerSchema)
        }
    }

    @Test("a registered version refuses every UPDATE and DELETE, even by hand")
    func versionsAreImmutable() async throws {
        try await withHub { hub in
            let registered = try await ModelFixtures.register(hub, version: "1.0.0")
            for sql in [
                "UPDATE versions SET model_digest = '\(String(repeating: "0", count: 64))'",
                "UPDATE versions SET metadata = '{\"x\":1}'", "UPDATE versions SET version = '9.9.9'",
                "UPDATE versions SET training_run = 'forged'", "DELETE FROM versions",
            ] {
                let error = await #expect(throws: DatabaseError.self) {
                    try await hub.services.database.pool.write { db in try db.execute(sql: sql) }
                }
                #expect(error?.message?.contains("immutable") == true || error?.message?.contains("never deleted") == true)
            }
            let stored = try await hub.registry.version(model: "digits", version: registered.version)
            #expect(stored == registered)
        }
    }

    @Test("the audit log refuses updates and deletes")
    func auditIsAppendOnly() async throws {
        try await withHub { hub in
            try await hub.registry.createModel(name: "digits", by: HubFixture.alice)
            for sql in ["UPDATE audit_log SET subject = 'mallory'", "DELETE FROM audit_log"] {
                let error = await #expect(throws: DatabaseError.self) {
                    try await hub.services.database.pool.write { db in try db.execute(sql: sql) }
                }
                #expect(error?.message?.contains("append-only") == true)
            }
            #expect(try await hub.allAudit().map(\.subject) == ["alice"])
        }
    }

    @Test("a token's hash, subject and role cannot be changed, and a revocation is final")
    func tokensAreFixed() async throws {
        try await withHub { hub in
            let issued = try await hub.tokens.create(subject: "ci", role: .viewer, by: HubFixture.admin)
            try await hub.tokens.revoke(id: issued.record.id, by: HubFixture.admin)
            for sql in [
                "UPDATE tokens SET role = 'admin'", "UPDATE tokens SET secret_hash = zeroblob(32)",
                "UPDATE tokens SET revoked_at = NULL, revoked_by = NULL", "DELETE FROM tokens",
            ] {
                await #expect(throws: DatabaseError.self) {
                    try await hub.services.database.pool.write { db in try db.execute(sql: sql) }
                }
            }
        }
    }

    @Test("an alias cannot point at another model's version")
    func aliasStaysWithinItsModel() async throws {
        try await withHub { hub in
            try await ModelFixtures.register(hub, model: "digits", version: "1.0.0")
            try await ModelFixtures.register(hub, model: "spam", version: "1.0.0")
            let error = await #expect(throws: DatabaseError.self) {
                try await hub.services.database.pool.write { db in
                    try db.execute(
                        sql: """
                            INSERT INTO aliases (model_seq, name, version_seq, set_at, set_by)
                            SELECT (SELECT seq FROM models WHERE name = 'digits'), 'canary', v.seq, 1, 'x'
                            FROM versions v JOIN models m ON m.seq = v.model_seq WHERE m.name = 'spam'
                            """)
                }
            }
            #expect(error?.extendedResultCode == .SQLITE_CONSTRAINT_FOREIGNKEY)
        }
    }
}
