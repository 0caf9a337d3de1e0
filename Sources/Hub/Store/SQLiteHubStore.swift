import Core
import GRDB

/// `RegistryStore`, `TokenStore` and `AuditStore` on the hub's SQLite database.
///
/// Each write is one transaction that also appends its audit row; the schema's triggers and
/// constraints back every rule the services check (immutable versions, final decisions,
/// four-eyes, an append-only audit log), so a bug or a hand-written statement cannot break them.
public struct SQLiteHubStore: RegistryStore, TokenStore, AuditStore {
    /// The database.
    public let database: HubStore

    /// The stores on `database`.
    public init(_ database: HubStore) {
        self.database = database
    }

    // MARK: - Models

    public func insertModel(_ model: RegisteredModel, change: ChangeContext) async throws(HubStoreError) {
        try await database.write("creating model '\(model.name)'") { db in
            try db.execute(
                sql: """
                    INSERT INTO models (name, description, owner, four_eyes, created_at, created_by)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [model.name, model.description, model.owner, model.fourEyes, model.createdAt, model.createdBy])
            try Self.audit(db, change, .modelCreated, AuditTarget.model(model.name), before: nil, after: model)
        }
    }

    public func updateModel(_ model: RegisteredModel, change: ChangeContext) async throws(HubStoreError) {
        try await database.write("updating model '\(model.name)'") { db in
            guard let before = try Self.fetchModel(db, name: model.name) else {
                throw HubStoreError(.notFound, "there is no model '\(model.name)'")
            }
            try db.execute(
                sql: "UPDATE models SET description = ?, owner = ?, four_eyes = ? WHERE name = ?",
                arguments: [model.description, model.owner, model.fourEyes, model.name])
            let after = try Self.fetchModel(db, name: model.name)
            try Self.audit(db, change, .modelUpdated, AuditTarget.model(model.name), before: before, after: after)
        }
    }

    public func model(named name: String) async throws(HubStoreError) -> RegisteredModel? {
        try await database.read("reading model '\(name)'") { db in try Self.fetchModel(db, name: name) }
    }

    public func models(page: PageRequest) async throws(HubStoreError) -> Page<RegisteredModel> {
        try page.checkLimit()
        return try await database.read("listing models") { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM models WHERE name > ? ORDER BY name LIMIT ?",
                arguments: [page.cursor ?? "", page.limit + 1])
            return Page.trimmed(rows.map(Self.model(from:)), limit: page.limit) { $0.name }
        }
    }

    // MARK: - Rows and audit

    static func fetchModel(_ db: Database, name: String) throws -> RegisteredModel? {
        try Row.fetchOne(db, sql: "SELECT * FROM models WHERE name = ?", arguments: [name]).map(model(from:))
    }

    static func model(from row: Row) -> RegisteredModel {
        RegisteredModel(
            name: row["name"], description: row["description"], owner: row["owner"], fourEyes: row["four_eyes"],
            createdAt: row["created_at"], createdBy: row["created_by"])
    }

    /// The `seq` of model `name`, or `notFound`.
    static func modelSeq(_ db: Database, _ name: String) throws -> Int64 {
        guard let seq = try Int64.fetchOne(db, sql: "SELECT seq FROM models WHERE name = ?", arguments: [name]) else {
            throw HubStoreError(.notFound, "there is no model '\(name)'")
        }
        return seq
    }

    /// Appends an audit row; called inside the transaction of the change it records.
    static func audit(
        _ db: Database, _ change: ChangeContext, _ action: AuditAction, _ target: String, before: (any Encodable)?,
        after: (any Encodable)?
    ) throws {
        try db.execute(
            sql: "INSERT INTO audit_log (time, subject, action, target, before, after) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [
                change.time, change.subject, action.rawValue, target, try before.map { try JSONValue.encode($0) },
                try after.map { try JSONValue.encode($0) },
            ])
    }
}
