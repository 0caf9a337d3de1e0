import GRDB

extension HubSchema {
    /// Federated rounds and the devices' signing keys.
    ///
    /// A round row keeps its request (JSON), its status, how many iterations closed, a summary
    /// per closed iteration (JSON), and the coordinator's snapshot (a blob: the global
    /// parameters, the open iteration and the strategy's partial aggregate), rewritten after each
    /// accepted update so a restarted hub resumes mid-iteration.
    static func createFederatedRounds(_ db: Database) throws {
        try db.execute(
            sql: """
                ALTER TABLE devices ADD COLUMN signing_key TEXT CHECK (signing_key IS NULL OR length(signing_key) = 64);
                CREATE TABLE fl_rounds (
                    id TEXT PRIMARY KEY NOT NULL CHECK (length(id) BETWEEN 1 AND 128),
                    model TEXT NOT NULL,
                    base_version TEXT NOT NULL,
                    selector TEXT NOT NULL CHECK (length(selector) <= 4096),
                    request TEXT NOT NULL CHECK (json_valid(request)),
                    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'cancelled')),
                    active INTEGER NOT NULL CHECK (active IN (0, 1)),
                    iterations INTEGER NOT NULL DEFAULT 0,
                    history TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(history)),
                    state BLOB,
                    result_version TEXT,
                    message TEXT,
                    created_at INTEGER NOT NULL,
                    created_by TEXT NOT NULL,
                    updated_at INTEGER NOT NULL,
                    CHECK ((status = 'running') = (active = 1))
                );
                CREATE INDEX fl_rounds_active ON fl_rounds(active, created_at);
                CREATE TRIGGER fl_rounds_no_delete BEFORE DELETE ON fl_rounds
                BEGIN
                    SELECT RAISE(ABORT, 'federated rounds are kept for the record, never deleted');
                END;
                CREATE TABLE fl_round_events (
                    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                    round_id TEXT NOT NULL REFERENCES fl_rounds(id),
                    time INTEGER NOT NULL,
                    text TEXT NOT NULL CHECK (length(text) BETWEEN 1 AND 4096)
                );
                CREATE INDEX fl_round_events_by_round ON fl_round_events(round_id, sequence);
                CREATE TRIGGER fl_round_events_append_only BEFORE UPDATE ON fl_round_events
                BEGIN
                    SELECT RAISE(ABORT, 'round events are append-only');
                END;
                """)
    }
}
