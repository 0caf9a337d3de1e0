import Foundation
import GRDB

extension SQLiteHubStore {
    // MARK: - Tokens

    public func insertToken(_ token: TokenRecord, secretHash: [UInt8], change: ChangeContext) async throws(HubStoreError) {
        try await database.write("creating a token for '\(token.subject)'") { db in
            try db.execute(
                sql: """
                    INSERT INTO tokens (id, secret_hash, subject, role, created_at, created_by, expires_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    token.id, Data(secretHash), token.subject, token.role.rawValue, token.createdAt, token.createdBy,
                    token.expiresAt,
                ])
            try Self.audit(db, change, .tokenCreated, AuditTarget.token(token.id), before: nil, after: token)
        }
    }

    public func token(id: String) async throws(HubStoreError) -> (record: TokenRecord, secretHash: [UInt8])? {
        let found = try await database.read("reading a token") { db -> StoredToken? in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM tokens WHERE id = ?", arguments: [id]) else { return nil }
            return StoredToken(record: try Self.token(from: row), secretHash: Array(row["secret_hash"] as Data))
        }
        return found.map { ($0.record, $0.secretHash) }
    }

    public func tokens(page: PageRequest) async throws(HubStoreError) -> Page<TokenRecord> {
        let cursor = try page.sequenceCursor()
        return try await database.read("listing tokens") { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM tokens WHERE seq > ? ORDER BY seq LIMIT ?", arguments: [cursor ?? 0, page.limit + 1])
            let tokens = try rows.map { (seq: $0["seq"] as Int64, token: try Self.token(from: $0)) }
            let trimmed = Page.trimmed(tokens, limit: page.limit) { String($0.seq) }
            return Page(items: trimmed.items.map(\.token), next: trimmed.next)
        }
    }

    public func revokeToken(id: String, change: ChangeContext) async throws(HubStoreError) -> TokenRecord {
        try await database.write("revoking token \(id)") { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM tokens WHERE id = ?", arguments: [id]) else {
                throw HubStoreError(.notFound, "there is no token \(id)")
            }
            let before = try Self.token(from: row)
            guard before.revokedAt == nil else { throw HubStoreError(.conflict, "token \(id) is already revoked") }
            try db.execute(
                sql: "UPDATE tokens SET revoked_at = ?, revoked_by = ? WHERE id = ?",
                arguments: [change.time, change.subject, id])
            var after = before
            after.revokedAt = change.time
            after.revokedBy = change.subject
            try Self.audit(db, change, .tokenRevoked, AuditTarget.token(id), before: before, after: after)
            return after
        }
    }

    /// A token row as read, secret hash included.
    struct StoredToken: Sendable {
        var record: TokenRecord
        var secretHash: [UInt8]
    }

    static func token(from row: Row) throws -> TokenRecord {
        let text: String = row["role"]
        guard let role = Role(rawValue: text) else {
            throw HubStoreError(.ioFailed, "the database holds role '\(text)', which this hub does not know")
        }
        return TokenRecord(
            id: row["id"], subject: row["subject"], role: role, createdAt: row["created_at"], createdBy: row["created_by"],
            expiresAt: row["expires_at"], revokedAt: row["revoked_at"], revokedBy: row["revoked_by"])
    }

    // MARK: - Audit

    public func auditEntries(filter: AuditFilter, page: PageRequest) async throws(HubStoreError) -> Page<AuditEntry> {
        let cursor = try page.sequenceCursor()
        return try await database.read("reading the audit log") { db in
            var conditions = ["seq < ?"]
            var arguments: StatementArguments = [cursor ?? Int64.max]
            if let target = filter.target {
                // Under BINARY collation every "target/..." lies in ["target/", "target0"): '0' follows '/'.
                conditions.append("(target = ? OR (target >= ? AND target < ?))")
                arguments += [target, target + "/", target + "0"]
            }
            if let subject = filter.subject {
                conditions.append("subject = ?")
                arguments += [subject]
            }
            if let action = filter.action {
                conditions.append("action = ?")
                arguments += [action.rawValue]
            }
            arguments += [page.limit + 1]
            let sql = "SELECT * FROM audit_log WHERE \(conditions.joined(separator: " AND ")) ORDER BY seq DESC LIMIT ?"
            let rows = try Row.fetchAll(db, sql: sql, arguments: arguments)
            return Page.trimmed(try rows.map { try Self.auditEntry(from: $0) }, limit: page.limit) { String($0.id) }
        }
    }

    static func auditEntry(from row: Row) throws -> AuditEntry {
        let text: String = row["action"]
        guard let action = AuditAction(rawValue: text) else {
            throw HubStoreError(.ioFailed, "the audit log holds action '\(text)', which this hub does not know")
        }
        return AuditEntry(
            id: row["seq"], time: row["time"], subject: row["subject"], action: action, target: row["target"],
            before: (row["before"] as String?).flatMap { JSONValue(text: $0) },
            after: (row["after"] as String?).flatMap { JSONValue(text: $0) })
    }
}
