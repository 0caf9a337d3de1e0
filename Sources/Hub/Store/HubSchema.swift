import GRDB

/// The hub database's schema: an append-only list of named migrations.
///
/// A migration, once shipped, is never edited, renamed, reordered or removed: a later change is a
/// new migration at the end of the list (`HubSchemaTests` pins the names). Invariants live in the
/// schema: NOT NULL, CHECK, foreign keys, and triggers that keep versions immutable, decided
/// approvals final, token secrets unchangeable and the audit log append-only.
enum HubSchema {
    /// The migrations, in the order they run.
    static let migrations: [(name: String, migrate: @Sendable (Database) throws -> Void)] = [
        ("001-models", createModels),
        ("002-versions", createVersions),
        ("003-version-tags", createVersionTags),
        ("004-aliases", createAliases),
        ("005-approvals", createApprovals),
        ("006-tokens", createTokens),
        ("007-audit-log", createAuditLog),
        ("008-devices", createDevices),
        ("009-device-groups", createDeviceGroups),
        ("010-device-status", createDeviceStatus),
        ("011-rollouts", createRollouts),
        ("012-rollout-events", createRolloutEvents),
        ("013-datasets", createDatasets),
        ("014-federated-rounds", createFederatedRounds),
    ]

    /// A migrator with every migration registered.
    static func migrator() -> DatabaseMigrator {
        migrator(upTo: migrations.count)
    }

    /// A migrator with the first `count` migrations: what an older hub would have run.
    static func migrator(upTo count: Int) -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for migration in migrations.prefix(count) {
            migrator.registerMigration(migration.name, migrate: migration.migrate)
        }
        return migrator
    }

    // MARK: - Migrations

    private static func createModels(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE models (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
                    description TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 4096),
                    owner TEXT NOT NULL CHECK (length(owner) BETWEEN 1 AND 128),
                    four_eyes INTEGER NOT NULL CHECK (four_eyes IN (0, 1)),
                    created_at INTEGER NOT NULL,
                    created_by TEXT NOT NULL
                );
                CREATE TRIGGER models_name_fixed BEFORE UPDATE OF seq, name, created_at, created_by ON models
                BEGIN
                    SELECT RAISE(ABORT, 'a model''s name and creation are immutable');
                END;
                CREATE TRIGGER models_no_delete BEFORE DELETE ON models
                BEGIN
                    SELECT RAISE(ABORT, 'models are never deleted');
                END;
                """)
    }

    private static func createVersions(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE versions (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    model_seq INTEGER NOT NULL REFERENCES models(seq),
                    version TEXT NOT NULL CHECK (length(version) BETWEEN 5 AND 256),
                    metadata TEXT NOT NULL CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
                    parent_version TEXT,
                    training_run TEXT,
                    federated_round TEXT,
                    import_source TEXT,
                    data_digests TEXT NOT NULL CHECK (json_valid(data_digests) AND json_type(data_digests) = 'array'),
                    model_digest TEXT NOT NULL CHECK (length(model_digest) = 64),
                    model_size INTEGER NOT NULL CHECK (model_size > 0),
                    package_digest TEXT NOT NULL CHECK (length(package_digest) = 64),
                    package_size INTEGER NOT NULL CHECK (package_size > 0),
                    package_id TEXT NOT NULL CHECK (length(package_id) = 64),
                    signing_key_id TEXT NOT NULL CHECK (length(signing_key_id) > 0),
                    registered_at INTEGER NOT NULL,
                    registered_by TEXT NOT NULL,
                    UNIQUE (model_seq, version),
                    UNIQUE (model_seq, seq),
                    FOREIGN KEY (model_seq, parent_version) REFERENCES versions(model_seq, version)
                );
                CREATE TRIGGER versions_immutable BEFORE UPDATE ON versions
                BEGIN
                    SELECT RAISE(ABORT, 'a registered model version is immutable; register a new version instead');
                END;
                CREATE TRIGGER versions_no_delete BEFORE DELETE ON versions
                BEGIN
                    SELECT RAISE(ABORT, 'a registered model version is never deleted');
                END;
                """)
    }

    private static func createVersionTags(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE version_tags (
                    version_seq INTEGER NOT NULL REFERENCES versions(seq),
                    key TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 64),
                    value TEXT NOT NULL CHECK (length(value) <= 1024),
                    set_at INTEGER NOT NULL,
                    set_by TEXT NOT NULL,
                    PRIMARY KEY (version_seq, key)
                );
                """)
    }

    private static func createAliases(_ db: Database) throws {
        // The composite key makes it impossible to point an alias at another model's version.
        try db.execute(
            sql: """
                CREATE TABLE aliases (
                    model_seq INTEGER NOT NULL REFERENCES models(seq),
                    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
                    version_seq INTEGER NOT NULL,
                    set_at INTEGER NOT NULL,
                    set_by TEXT NOT NULL,
                    PRIMARY KEY (model_seq, name),
                    FOREIGN KEY (model_seq, version_seq) REFERENCES versions(model_seq, seq)
                );
                """)
    }

    private static func createApprovals(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE approvals (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    model_seq INTEGER NOT NULL REFERENCES models(seq),
                    version_seq INTEGER NOT NULL,
                    alias TEXT NOT NULL CHECK (length(alias) BETWEEN 1 AND 64),
                    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected')),
                    requested_by TEXT NOT NULL,
                    requested_at INTEGER NOT NULL,
                    note TEXT NOT NULL DEFAULT '' CHECK (length(note) <= 4096),
                    decided_by TEXT,
                    decided_at INTEGER,
                    reason TEXT NOT NULL DEFAULT '' CHECK (length(reason) <= 4096),
                    FOREIGN KEY (model_seq, version_seq) REFERENCES versions(model_seq, seq),
                    CHECK ((state = 'pending') = (decided_by IS NULL)),
                    CHECK ((decided_by IS NULL) = (decided_at IS NULL))
                );
                CREATE UNIQUE INDEX approvals_one_pending ON approvals(model_seq, alias) WHERE state = 'pending';
                CREATE INDEX approvals_model ON approvals(model_seq, seq);
                CREATE TRIGGER approvals_decided_once BEFORE UPDATE ON approvals
                WHEN OLD.state <> 'pending'
                BEGIN
                    SELECT RAISE(ABORT, 'an approval is decided once and then final');
                END;
                CREATE TRIGGER approvals_request_fixed BEFORE UPDATE OF seq, model_seq, version_seq, alias, requested_by,
                    requested_at, note ON approvals
                BEGIN
                    SELECT RAISE(ABORT, 'an approval request is immutable');
                END;
                CREATE TRIGGER approvals_four_eyes BEFORE UPDATE OF state ON approvals
                WHEN NEW.state = 'approved' AND NEW.decided_by = OLD.requested_by
                    AND (SELECT four_eyes FROM models WHERE seq = OLD.model_seq) = 1
                BEGIN
                    SELECT RAISE(ABORT, 'four-eyes: the requester cannot approve their own request');
                END;
                CREATE TRIGGER approvals_no_delete BEFORE DELETE ON approvals
                BEGIN
                    SELECT RAISE(ABORT, 'approvals are never deleted');
                END;
                """)
    }

    private static func createTokens(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE tokens (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    id TEXT NOT NULL UNIQUE CHECK (length(id) = 16),
                    secret_hash BLOB NOT NULL CHECK (length(secret_hash) = 32),
                    subject TEXT NOT NULL CHECK (length(subject) BETWEEN 1 AND 128),
                    role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
                    created_at INTEGER NOT NULL,
                    created_by TEXT NOT NULL,
                    expires_at INTEGER,
                    revoked_at INTEGER,
                    revoked_by TEXT,
                    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL)),
                    CHECK (expires_at IS NULL OR expires_at > created_at)
                );
                CREATE TRIGGER tokens_fixed BEFORE UPDATE OF seq, id, secret_hash, subject, role, created_at, created_by,
                    expires_at ON tokens
                BEGIN
                    SELECT RAISE(ABORT, 'a token is immutable; revoke it and create a new one');
                END;
                CREATE TRIGGER tokens_revoked_once BEFORE UPDATE ON tokens
                WHEN OLD.revoked_at IS NOT NULL
                BEGIN
                    SELECT RAISE(ABORT, 'a revoked token stays revoked');
                END;
                CREATE TRIGGER tokens_no_delete BEFORE DELETE ON tokens
                BEGIN
                    SELECT RAISE(ABORT, 'tokens are revoked, never deleted');
                END;
                """)
    }

    private static func createAuditLog(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE audit_log (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    time INTEGER NOT NULL,
                    subject TEXT NOT NULL CHECK (length(subject) > 0),
                    action TEXT NOT NULL CHECK (length(action) > 0),
                    target TEXT NOT NULL CHECK (length(target) > 0),
                    before TEXT CHECK (before IS NULL OR json_valid(before)),
                    after TEXT CHECK (after IS NULL OR json_valid(after))
                );
                CREATE INDEX audit_log_target ON audit_log(target, seq);
                CREATE INDEX audit_log_subject ON audit_log(subject, seq);
                CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
                BEGIN
                    SELECT RAISE(ABORT, 'the audit log is append-only');
                END;
                CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
                BEGIN
                    SELECT RAISE(ABORT, 'the audit log is append-only');
                END;
                """)
    }
}
