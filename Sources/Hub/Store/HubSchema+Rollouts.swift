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
}
