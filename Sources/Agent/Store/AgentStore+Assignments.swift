import GRDB

/// What the agent did with an assignment.
public enum AssignmentOutcome: String, Sendable, Codable {
    /// It started (or queued) an update.
    case accepted
    /// Nothing to do: a repeat, an older one, or the version already serving.
    case ignored
    /// Refused (wrong device, expired, downgrade without a rollback order); an event said why.
    case refused
}

extension AgentStore {
    /// Remembers what was done with the assignment `id` (a repeat of it is then ignored).
    public func recordAssignment(
        id: String, modelName: String, modelVersion: String, issued: Int64, outcome: AssignmentOutcome,
        reason: String? = nil, received: Int64? = nil
    ) async throws(StoreError) {
        guard !id.isEmpty else { throw StoreError(.invalidRecord, "assignment: the id is empty") }
        let when = received ?? configuration.now()
        try await StoreError.wrap("recording an assignment") {
            try await pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO assignments (id, model_name, model_version, issued, received, outcome, reason)
                        VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING
                        """, arguments: [id, modelName, modelVersion, issued, when, outcome.rawValue, reason])
            }
        }
    }

    /// The recorded outcome of the assignment `id`, if it was seen.
    public func assignmentOutcome(id: String) async throws(StoreError) -> AssignmentOutcome? {
        try await StoreError.wrap("reading an assignment") {
            try await pool.read { db in
                try String.fetchOne(db, sql: "SELECT outcome FROM assignments WHERE id = ?", arguments: [id])
                    .flatMap(AssignmentOutcome.init(rawValue:))
            }
        }
    }

    /// The issue time of the newest accepted assignment for `modelName`: an assignment issued
    /// before it is stale.
    public func newestAcceptedAssignment(modelName: String) async throws(StoreError) -> Int64? {
        try await StoreError.wrap("reading assignments") {
            try await pool.read { db in
                try Int64.fetchOne(
                    db, sql: "SELECT max(issued) FROM assignments WHERE model_name = ? AND outcome = 'accepted'",
                    arguments: [modelName])
            }
        }
    }

    /// The version the newest accepted assignment for `modelName` asks for: where the device is
    /// headed, whether that update is done, running or queued.
    public func newestAcceptedVersion(modelName: String) async throws(StoreError) -> String? {
        try await StoreError.wrap("reading assignments") {
            try await pool.read { db in
                try String.fetchOne(
                    db,
                    sql: """
                        SELECT model_version FROM assignments WHERE model_name = ? AND outcome = 'accepted'
                        ORDER BY issued DESC, received DESC LIMIT 1
                        """,
                    arguments: [modelName])
            }
        }
    }
}
