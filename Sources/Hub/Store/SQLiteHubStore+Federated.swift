import Foundation
import GRDB

extension SQLiteHubStore: FederatedStore {
    public func insertRound(_ round: RoundRecord, state: [UInt8], change: ChangeContext) async throws(HubStoreError) {
        try await database.write("creating round '\(round.id)'") { db in
            if try Self.fetchRound(db, id: round.id) != nil { throw HubStoreError(.conflict, "round '\(round.id)' exists") }
            try db.execute(
                sql: """
                    INSERT INTO fl_rounds (id, model, base_version, selector, request, status, active, iterations, history,
                        state, created_at, created_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    round.id, round.model, round.baseVersion, round.selector, try Self.roundJSON(round.request),
                    round.status.rawValue, round.status == .running ? 1 : 0, round.iterations, try Self.roundJSON(round.history),
                    Data(state), round.createdAt, round.createdBy, round.updatedAt,
                ])
            try Self.audit(db, change, .roundCreated, AuditTarget.round(round.id), before: nil, after: round)
        }
    }

    public func round(id: String) async throws(HubStoreError) -> RoundRecord? {
        try await database.read("reading round '\(id)'") { db in try Self.fetchRound(db, id: id) }
    }

    public func roundState(id: String) async throws(HubStoreError) -> [UInt8]? {
        try await database.read("reading the state of round '\(id)'") { db in
            try Data.fetchOne(db, sql: "SELECT state FROM fl_rounds WHERE id = ?", arguments: [id]).map { Array($0) }
        }
    }

    public func rounds(activeOnly: Bool) async throws(HubStoreError) -> [RoundRecord] {
        try await database.read("listing rounds") { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM fl_rounds \(activeOnly ? "WHERE active = 1" : "") ORDER BY created_at DESC, id"
            ).map(Self.round(from:))
        }
    }

    public func saveRoundProgress(id: String, iterations: Int, history: [IterationSummary], state: [UInt8], time: Int64)
        async throws(HubStoreError)
    {
        try await database.write("saving the progress of round '\(id)'") { db in
            try db.execute(
                sql: "UPDATE fl_rounds SET iterations = ?, history = ?, state = ?, updated_at = ? WHERE id = ? AND active = 1",
                arguments: [iterations, try Self.roundJSON(history), Data(state), time, id])
            guard db.changesCount == 1 else { throw HubStoreError(.conflict, "round '\(id)' is not running") }
        }
    }

    public func finishRound(id: String, status: RoundStatus, resultVersion: String?, message: String?, change: ChangeContext)
        async throws(HubStoreError) -> RoundRecord
    {
        try await database.write("ending round '\(id)'") { db in
            guard let before = try Self.fetchRound(db, id: id) else { throw HubStoreError(.notFound, "there is no round '\(id)'") }
            guard before.status == .running else { throw HubStoreError(.conflict, "round '\(id)' already ended (\(before.status.rawValue))") }
            try db.execute(
                sql: """
                    UPDATE fl_rounds SET status = ?, active = 0, result_version = ?, message = ?, updated_at = ?
                    WHERE id = ?
                    """,
                arguments: [status.rawValue, resultVersion, message.map { String($0.prefix(4096)) }, change.time, id])
            let after = try Self.fetchRound(db, id: id)!
            try Self.audit(db, change, .roundStatusChanged, AuditTarget.round(id), before: before.status, after: after.status)
            return after
        }
    }

    public func appendRoundEvent(id: String, time: Int64, text: String) async throws(HubStoreError) {
        let text = String(text.prefix(4096))
        try await database.write("logging an event of round '\(id)'") { db in
            try db.execute(sql: "INSERT INTO fl_round_events (round_id, time, text) VALUES (?, ?, ?)", arguments: [id, time, text])
        }
    }

    public func roundEvents(id: String, limit: Int) async throws(HubStoreError) -> [RolloutEvent.Logged] {
        try await database.read("reading the events of round '\(id)'") { db in
            try Row.fetchAll(
                db, sql: "SELECT time, text FROM fl_round_events WHERE round_id = ? ORDER BY sequence DESC LIMIT ?",
                arguments: [id, limit]
            ).reversed().map { RolloutEvent.Logged(time: $0["time"], text: $0["text"]) }
        }
    }

    private static func roundJSON<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    private static func fetchRound(_ db: Database, id: String) throws -> RoundRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM fl_rounds WHERE id = ?", arguments: [id]).map(round(from:))
    }

    private static func round(from row: Row) throws -> RoundRecord {
        let request: String = row["request"]
        let history: String = row["history"]
        let status: String = row["status"]
        guard let parsed = RoundStatus(rawValue: status) else {
            throw HubStoreError(.ioFailed, "the database holds round status '\(status)', which this hub does not know")
        }
        return RoundRecord(
            id: row["id"], model: row["model"], baseVersion: row["base_version"], selector: row["selector"],
            request: try JSONDecoder().decode(RoundRequest.self, from: Data(request.utf8)), status: parsed,
            iterations: row["iterations"], history: try JSONDecoder().decode([IterationSummary].self, from: Data(history.utf8)),
            resultVersion: row["result_version"], message: row["message"], createdAt: row["created_at"],
            createdBy: row["created_by"], updatedAt: row["updated_at"])
    }
}
