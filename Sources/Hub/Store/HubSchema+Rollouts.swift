import GRDB

extension HubSchema {
    /// Rollouts: the plan and the state as JSON (`RolloutPlan`, `RolloutState`), `active` kept in
    /// step with the state for listing what the runner must drive.
    static func createRollouts(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE rollouts (
                    id TEXT PRIMARY KEY NOT NULL CHECK (length(id) BETWEEN 1 AND 128),
                    model TEXT NOT NULL,
                    candidate TEXT NOT NULL,
                    baseline TEXT,
                    selector TEXT NOT NULL CHECK (length(selector) <= 4096),
                    plan TEXT NOT NULL CHECK (json_valid(plan)),
                    state TEXT NOT NULL CHECK (json_valid(state)),
                    active INTEGER NOT NULL CHECK (active IN (0, 1)),
                    salt TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    created_by TEXT NOT NULL,
                    updated_at INTEGER NOT NULL
                );
                CREATE INDEX rollouts_active ON rollouts(active, created_at);
                CREATE TRIGGER rollouts_no_delete BEFORE DELETE ON rollouts
                BEGIN
                    SELECT RAISE(ABORT, 'rollouts are kept for the record, never deleted');
                END;
                """)
    }

    /// What happened to each rollout, in order: phases started, gates failed, assignments sent;
    /// and the baseline's last aggregates, which the last phase (no device left on the
    /// baseline) compares with.
    static func createRolloutEvents(_ db: Database) throws {
        try db.execute(
            sql: """
                ALTER TABLE rollouts ADD COLUMN baseline_metrics TEXT CHECK (baseline_metrics IS NULL OR json_valid(baseline_metrics));
                CREATE TABLE rollout_events (
                    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                    rollout_id TEXT NOT NULL REFERENCES rollouts(id),
                    time INTEGER NOT NULL,
                    text TEXT NOT NULL CHECK (length(text) BETWEEN 1 AND 4096)
                );
                CREATE INDEX rollout_events_by_rollout ON rollout_events(rollout_id, sequence);
                CREATE TRIGGER rollout_events_append_only BEFORE UPDATE ON rollout_events
                BEGIN
                    SELECT RAISE(ABORT, 'rollout events are append-only');
                END;
                """)
    }
}
