import Core
import GRDB

extension SQLiteHubStore {
    public func insertApproval(
        model: String, version: String, alias: String, note: String, change: ChangeContext
    ) async throws(HubStoreError) -> Approval {
        try await database.write("requesting approval of \(model) \(version) as '\(alias)'") { db in
            let modelSeq = try Self.modelSeq(db, model)
            let versionSeq = try Self.versionSeq(db, model: model, version: version)
            let pending = try Int64.fetchOne(
                db, sql: "SELECT seq FROM approvals WHERE model_seq = ? AND alias = ? AND state = 'pending'",
                arguments: [modelSeq, alias])
            if let pending {
                throw HubStoreError(
                    .conflict,
                    "approval \(pending) for '\(alias)' of \(model) is still pending; decide or reject it first")
            }
            try db.execute(
                sql: """
                    INSERT INTO approvals (model_seq, version_seq, alias, state, requested_by, requested_at, note)
                    VALUES (?, ?, ?, 'pending', ?, ?, ?)
                    """, arguments: [modelSeq, versionSeq, alias, change.subject, change.time, note])
            let id = db.lastInsertedRowID
            guard let approval = try Self.fetchApproval(db, id: id) else {
                throw HubStoreError(.ioFailed, "approval \(id) vanished while it was being written")
            }
            try Self.audit(db, change, .approvalRequested, AuditTarget.approval(model, id), before: nil, after: approval)
            return approval
        }
    }

    public func decideApproval(
        id: Int64, approve: Bool, reason: String, change: ChangeContext
    ) async throws(HubStoreError) -> Approval {
        try await database.write("deciding approval \(id)") { db in
            guard let before = try Self.fetchApproval(db, id: id) else {
                throw HubStoreError(.notFound, "there is no approval \(id)")
            }
            guard before.state == .pending else {
                throw HubStoreError(
                    .conflict, "approval \(id) was already \(before.state.rawValue) by \(before.decidedBy ?? "?")")
            }
            let state: ApprovalState = approve ? .approved : .rejected
            try db.execute(
                sql: "UPDATE approvals SET state = ?, decided_by = ?, decided_at = ?, reason = ? WHERE seq = ?",
                arguments: [state.rawValue, change.subject, change.time, reason, id])
            guard let after = try Self.fetchApproval(db, id: id) else {
                throw HubStoreError(.ioFailed, "approval \(id) vanished while it was being decided")
            }
            try Self.audit(
                db, change, approve ? .approvalApproved : .approvalRejected, AuditTarget.approval(before.model, id),
                before: before, after: after)
            if approve {
                _ = try Self.setAliasRow(
                    db, model: before.model, name: before.alias, version: before.version.description, change: change)
            }
            return after
        }
    }

    public func approval(id: Int64) async throws(HubStoreError) -> Approval? {
        try await database.read("reading approval \(id)") { db in try Self.fetchApproval(db, id: id) }
    }

    public func approvals(
        model: String, state: ApprovalState?, page: PageRequest
    ) async throws(HubStoreError) -> Page<Approval> {
        let cursor = try page.sequenceCursor()
        return try await database.read("listing the approvals of \(model)") { db in
            let modelSeq = try Self.modelSeq(db, model)
            let rows = try Row.fetchAll(
                db,
                sql: Self.approvalQuery
                    + " WHERE a.model_seq = ? AND a.seq < ? AND (? IS NULL OR a.state = ?) ORDER BY a.seq DESC LIMIT ?",
                arguments: [modelSeq, cursor ?? Int64.max, state?.rawValue, state?.rawValue, page.limit + 1])
            return Page.trimmed(try rows.map { try Self.approval(from: $0) }, limit: page.limit) { String($0.id) }
        }
    }

    // MARK: - Rows

    static let approvalQuery = """
        SELECT a.*, m.name AS model_name, v.version AS version FROM approvals a
        JOIN models m ON m.seq = a.model_seq JOIN versions v ON v.seq = a.version_seq
        """

    static func fetchApproval(_ db: Database, id: Int64) throws -> Approval? {
        try Row.fetchOne(db, sql: approvalQuery + " WHERE a.seq = ?", arguments: [id]).map { try approval(from: $0) }
    }

    static func approval(from row: Row) throws -> Approval {
        let text: String = row["state"]
        guard let state = ApprovalState(rawValue: text) else {
            throw HubStoreError(.ioFailed, "the database holds approval state '\(text)', which this hub does not know")
        }
        return Approval(
            id: row["seq"], model: row["model_name"], version: try semanticVersion(row["version"]), alias: row["alias"],
            state: state, requestedBy: row["requested_by"], requestedAt: row["requested_at"], note: row["note"],
            decidedBy: row["decided_by"], decidedAt: row["decided_at"], reason: row["reason"])
    }
}
