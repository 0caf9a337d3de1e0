import GRDB

/// The store's schema: an append-only list of named migrations.
///
/// A migration, once shipped, is never edited, renamed, reordered or removed: a later change is a
/// new migration at the end of the list (`StoreSchemaTests` pins the names). Invariants live in
/// the schema: NOT NULL, CHECK, foreign keys, and triggers that keep the update journal
/// append-only and unsent feedback undeletable.
enum StoreSchema {
    /// The migrations, in the order they run.
    static let migrations: [(name: String, migrate: @Sendable (Database) throws -> Void)] = [
        ("001-predictions", createPredictions),
        ("002-feedback", createFeedback),
        ("003-outbox", createOutbox),
        ("004-update-journal", createUpdateJournal),
        ("005-installed-models", createInstalledModels),
        ("006-drift-windows", createDriftWindows),
        ("007-federated-rounds", createFederatedRounds),
        ("008-assignments", createAssignments),
        ("009-network-usage", createNetworkUsage),
    ]

    /// A migrator with every migration registered.
    static func migrator() -> DatabaseMigrator {
        migrator(upTo: migrations.count)
    }

    /// A migrator with the first `count` migrations: what an older agent would have run.
    static func migrator(upTo count: Int) -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for migration in migrations.prefix(count) {
            migrator.registerMigration(migration.name, migrate: migration.migrate)
        }
        return migrator
    }

    // MARK: - Migrations

    private static func createPredictions(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE predictions (
                    seq INTEGER PRIMARY KEY,
                    request_id TEXT NOT NULL UNIQUE CHECK (length(request_id) BETWEEN 1 AND 256),
                    time INTEGER NOT NULL,
                    model_name TEXT NOT NULL,
                    model_version TEXT NOT NULL,
                    inputs TEXT,
                    input_digest TEXT NOT NULL CHECK (length(input_digest) = 64),
                    outputs TEXT NOT NULL,
                    latency_us INTEGER NOT NULL CHECK (latency_us >= 0)
                );
                """)
    }

    private static func createFeedback(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE feedback (
                    prediction_seq INTEGER PRIMARY KEY REFERENCES predictions(seq) ON DELETE CASCADE,
                    label TEXT NOT NULL CHECK (length(label) BETWEEN 1 AND 256),
                    time INTEGER NOT NULL,
                    batch_id TEXT,
                    sent INTEGER NOT NULL DEFAULT 0 CHECK (sent IN (0, 1)),
                    CHECK (sent = 0 OR batch_id IS NOT NULL)
                );
                CREATE INDEX feedback_unbatched ON feedback(prediction_seq) WHERE batch_id IS NULL;
                CREATE INDEX feedback_batch ON feedback(batch_id) WHERE batch_id IS NOT NULL;
                CREATE TRIGGER predictions_keep_unsent_feedback BEFORE DELETE ON predictions
                WHEN EXISTS (SELECT 1 FROM feedback WHERE prediction_seq = OLD.seq AND sent = 0)
                BEGIN
                    SELECT RAISE(ABORT, 'a prediction with unsent feedback cannot be deleted');
                END;
                """)
    }

    private static func createOutbox(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE outbox (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    id TEXT NOT NULL UNIQUE CHECK (length(id) BETWEEN 1 AND 128),
                    kind TEXT NOT NULL,
                    topic TEXT NOT NULL CHECK (length(topic) > 0),
                    payload BLOB NOT NULL,
                    created INTEGER NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0)
                );
                """)
    }

    private static func createUpdateJournal(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE update_journal (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    package_id TEXT NOT NULL CHECK (length(package_id) > 0),
                    from_state TEXT,
                    to_state TEXT NOT NULL CHECK (length(to_state) > 0),
                    time INTEGER NOT NULL,
                    detail TEXT
                );
                CREATE INDEX update_journal_package ON update_journal(package_id, seq);
                CREATE TRIGGER update_journal_no_update BEFORE UPDATE ON update_journal
                BEGIN
                    SELECT RAISE(ABORT, 'the update journal is append-only');
                END;
                CREATE TRIGGER update_journal_no_delete BEFORE DELETE ON update_journal
                BEGIN
                    SELECT RAISE(ABORT, 'the update journal is append-only');
                END;
                """)
    }

    private static func createInstalledModels(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE installed_models (
                    name TEXT NOT NULL CHECK (length(name) > 0),
                    version TEXT NOT NULL CHECK (length(version) > 0),
                    path TEXT NOT NULL CHECK (length(path) > 0),
                    digest TEXT NOT NULL CHECK (length(digest) = 64),
                    state TEXT NOT NULL,
                    installed INTEGER NOT NULL,
                    PRIMARY KEY (name, version)
                );
                CREATE UNIQUE INDEX installed_models_one_active ON installed_models(name) WHERE state = 'active';
                """)
    }

    private static func createDriftWindows(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE drift_windows (
                    seq INTEGER PRIMARY KEY,
                    model_name TEXT NOT NULL,
                    model_version TEXT NOT NULL,
                    window_start INTEGER NOT NULL,
                    window_end INTEGER NOT NULL,
                    sketch TEXT NOT NULL CHECK (json_valid(sketch)),
                    reported INTEGER NOT NULL DEFAULT 0 CHECK (reported IN (0, 1)),
                    CHECK (window_end > window_start),
                    UNIQUE (model_name, model_version, window_start)
                );
                """)
    }

    private static func createFederatedRounds(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE federated_rounds (
                    round_id TEXT PRIMARY KEY CHECK (length(round_id) > 0),
                    status TEXT NOT NULL CHECK (length(status) > 0),
                    updated INTEGER NOT NULL,
                    state TEXT NOT NULL CHECK (json_valid(state))
                );
                """)
    }

    private static func createAssignments(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE assignments (
                    id TEXT PRIMARY KEY CHECK (length(id) > 0),
                    model_name TEXT NOT NULL,
                    model_version TEXT NOT NULL,
                    issued INTEGER NOT NULL,
                    received INTEGER NOT NULL,
                    outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'ignored', 'refused')),
                    reason TEXT
                );
                CREATE INDEX assignments_model ON assignments(model_name, outcome, issued);
                """)
    }

    private static func createNetworkUsage(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE network_usage (
                    day INTEGER PRIMARY KEY,
                    bytes INTEGER NOT NULL CHECK (bytes >= 0)
                );
                """)
    }
}
