import Foundation
import GRDB

extension SQLiteHubStore: RolloutStore {
    public func insertRollout(_ rollout: RolloutRecord, change: ChangeContext) async throws(HubStoreError) {
        try await database.write("creating rollout '\(rollout.id)'") { db in
            if try Self.fetchRollout(db, id: rollout.id) != nil {
                throw HubStoreError(.conflict, "rollout '\(rollout.id)' exists")
            }
            try db.execute(
                sql: """
                    INSERT INTO rollouts (id, model, candidate, baseline, selector, plan, state, active, salt, created_at,
                        created_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    rollout.id, rollout.model, rollout.candidate, rollout.baseline, rollout.selector, try Self.json(rollout.plan),
                    try Self.json(rollout.state), rollout.state.isFinished ? 0 : 1, rollout.salt, rollout.createdAt,
                    rollout.createdBy, rollout.updatedAt,
                ])
            try Self.audit(db, change, .rolloutCreated, AuditTarget.rollout(rollout.id), before: nil, after: rollout)
        }
    }

    public func rollout(id: String) async throws(HubStoreError) -> RolloutRecord? {
        try await database.read("reading rollout '\(id)'") { db in try Self.fetchRollout(db, id: id) }
    }

    public func rollouts(activeOnly: Bool) async throws(HubStoreError) -> [RolloutRecord] {
        try await database.read("listing rollouts") { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM rollouts \(activeOnly ? "WHERE active = 1" : "") ORDER BY created_at DESC, id"
            ).map(Self.rollout(from:))
        }
    }

    public func updateRolloutState(id: String, from expected: RolloutState, to state: RolloutState, change: ChangeContext)
        async throws(HubStoreError) -> RolloutRecord
    {
        try await database.write("moving rollout '\(id)'") { db in
            guard let before = try Self.fetchRollout(db, id: id) else {
                throw HubStoreError(.notFound, "there is no rollout '\(id)'")
            }
            guard before.state == expected else {
                throw HubStoreError(.conflict, "rollout '\(id)' moved meanwhile; read it again")
            }
            try db.execute(
                sql: "UPDATE rollouts SET state = ?, active = ?, updated_at = ? WHERE id = ?",
                arguments: [try Self.json(state), state.isFinished ? 0 : 1, change.time, id])
            let after = try Self.fetchRollout(db, id: id)!
            try Self.audit(db, change, .rolloutStateChanged, AuditTarget.rollout(id), before: before.state, after: after.state)
            return after
        }
    }

    public func setRolloutBaselineMetrics(id: String, metrics: [String: Double]) async throws(HubStoreError) {
        try await database.write("keeping the baseline metrics of rollout '\(id)'") { db in
            try db.execute(
                sql: "UPDATE rollouts SET baseline_metrics = ? WHERE id = ?", arguments: [try Self.json(metrics), id])
        }
    }

    public func appendRolloutEvent(id: String, time: Int64, text: String) async throws(HubStoreError) {
        let text = String(text.prefix(4096))
        try await database.write("logging an event of rollout '\(id)'") { db in
            try db.execute(
                sql: "INSERT INTO rollout_events (rollout_id, time, text) VALUES (?, ?, ?)", arguments: [id, time, text])
        }
    }

    public func rolloutEvents(id: String, limit: Int) async throws(HubStoreError) -> [RolloutEvent.Logged] {
        try await database.read("reading the events of rollout '\(id)'") { db in
            try Row.fetchAll(
                db,
                sql: "SELECT time, text FROM rollout_events WHERE rollout_id = ? ORDER BY sequence DESC LIMIT ?",
                arguments: [id, limit]
            ).reversed().map { RolloutEvent.Logged(time: $0["time"], text: $0["text"]) }
        }
    }

    private static func json<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    private static func fetchRollout(_ db: Database, id: String) throws -> RolloutRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM rollouts WHERE id = ?", arguments: [id]).map(rollout(from:))
    }

    private static func rollout(from row: Row) throws -> RolloutRecord {
        let plan: String = row["plan"]
        let state: String = row["state"]
        let baseline: String? = row["baseline_metrics"]
        var record = RolloutRecord(
            id: row["id"], model: row["model"], candidate: row["candidate"], baseline: row["baseline"], selector: row["selector"],
            plan: try JSONDecoder().decode(RolloutPlan.self, from: Data(plan.utf8)),
            state: try JSONDecoder().decode(RolloutState.self, from: Data(state.utf8)), salt: row["salt"],
            createdAt: row["created_at"], createdBy: row["created_by"], updatedAt: row["updated_at"])
        if let baseline { record.baselineMetrics = try JSONDecoder().decode([String: Double].self, from: Data(baseline.utf8)) }
        return record
    }
}
