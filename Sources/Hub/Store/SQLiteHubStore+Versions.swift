import Core
import GRDB

extension SQLiteHubStore {
    // MARK: - Versions

    public func insertVersion(_ version: ModelVersion, change: ChangeContext) async throws(HubStoreError) {
        let what = "registering \(version.model) \(version.version)"
        try await database.write(what) { db in
            let modelSeq = try Self.modelSeq(db, version.model)
            let lineage = version.lineage
            try db.execute(
                sql: """
                    INSERT INTO versions (model_seq, version, metadata, parent_version, training_run, federated_round,
                        import_source, data_digests, model_digest, model_size, package_digest, package_size, package_id,
                        signing_key_id, registered_at, registered_by)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    modelSeq, version.version.description, try JSONValue.encode(version.metadata),
                    lineage.parent?.description, lineage.trainingRun, lineage.federatedRound, lineage.importSource,
                    try JSONValue.encode(lineage.dataDigests), version.modelFile.digest, version.modelFile.size,
                    version.package.digest, version.package.size, version.packageId, version.signingKeyId,
                    version.registeredAt, version.registeredBy,
                ])
            let stored = try Self.fetchVersion(db, model: version.model, version: version.version.description)
            try Self.audit(
                db, change, .versionRegistered, AuditTarget.version(version.model, version.version.description), before: nil,
                after: stored)
        }
    }

    public func version(model: String, version: String) async throws(HubStoreError) -> ModelVersion? {
        try await database.read("reading \(model) \(version)") { db in
            try Self.fetchVersion(db, model: model, version: version)
        }
    }

    public func versions(model: String, page: PageRequest) async throws(HubStoreError) -> Page<ModelVersion> {
        let cursor = try page.sequenceCursor()
        return try await database.read("listing the versions of \(model)") { db in
            let modelSeq = try Self.modelSeq(db, model)
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT v.*, m.name AS model_name FROM versions v JOIN models m ON m.seq = v.model_seq
                    WHERE v.model_seq = ? AND v.seq < ? ORDER BY v.seq DESC LIMIT ?
                    """,
                arguments: [modelSeq, cursor ?? Int64.max, page.limit + 1])
            let versions = try rows.map { row in (seq: row["seq"] as Int64, version: try Self.version(from: row, db: db)) }
            let trimmed = Page.trimmed(versions, limit: page.limit) { String($0.seq) }
            return Page(items: trimmed.items.map(\.version), next: trimmed.next)
        }
    }

    // MARK: - Tags

    public func setTag(
        model: String, version: String, key: String, value: String, change: ChangeContext
    ) async throws(HubStoreError) {
        try await database.write("tagging \(model) \(version)") { db in
            let seq = try Self.versionSeq(db, model: model, version: version)
            let before = try String.fetchOne(
                db, sql: "SELECT value FROM version_tags WHERE version_seq = ? AND key = ?", arguments: [seq, key])
            try db.execute(
                sql: """
                    INSERT INTO version_tags (version_seq, key, value, set_at, set_by) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (version_seq, key) DO UPDATE SET value = excluded.value, set_at = excluded.set_at,
                        set_by = excluded.set_by
                    """, arguments: [seq, key, value, change.time, change.subject])
            try Self.audit(
                db, change, .tagSet, AuditTarget.tag(model, version, key), before: before.map { [key: $0] },
                after: [key: value])
        }
    }

    public func removeTag(
        model: String, version: String, key: String, change: ChangeContext
    ) async throws(HubStoreError) -> Bool {
        try await database.write("removing a tag of \(model) \(version)") { db in
            let seq = try Self.versionSeq(db, model: model, version: version)
            let before = try String.fetchOne(
                db, sql: "SELECT value FROM version_tags WHERE version_seq = ? AND key = ?", arguments: [seq, key])
            guard let before else { return false }
            try db.execute(sql: "DELETE FROM version_tags WHERE version_seq = ? AND key = ?", arguments: [seq, key])
            try Self.audit(db, change, .tagRemoved, AuditTarget.tag(model, version, key), before: [key: before], after: nil)
            return true
        }
    }

    // MARK: - Aliases

    public func setAlias(
        model: String, name: String, version: String, change: ChangeContext
    ) async throws(HubStoreError) -> ModelAlias {
        try await database.write("setting alias '\(name)' of \(model)") { db in
            try Self.setAliasRow(db, model: model, name: name, version: version, change: change)
        }
    }

    public func clearAlias(model: String, name: String, change: ChangeContext) async throws(HubStoreError) -> ModelAlias? {
        try await database.write("clearing alias '\(name)' of \(model)") { db in
            let modelSeq = try Self.modelSeq(db, model)
            guard let before = try Self.fetchAlias(db, model: model, name: name) else { return nil }
            try db.execute(sql: "DELETE FROM aliases WHERE model_seq = ? AND name = ?", arguments: [modelSeq, name])
            try Self.audit(db, change, .aliasCleared, AuditTarget.alias(model, name), before: before, after: nil)
            return before
        }
    }

    public func aliases(model: String) async throws(HubStoreError) -> [ModelAlias] {
        try await database.read("reading the aliases of \(model)") { db in
            _ = try Self.modelSeq(db, model)
            return try Row.fetchAll(db, sql: Self.aliasQuery + " WHERE m.name = ? ORDER BY a.name", arguments: [model])
                .map { try Self.alias(from: $0) }
        }
    }

    // MARK: - Rows

    /// Points an alias at a version and audits it; the caller holds the transaction.
    static func setAliasRow(
        _ db: Database, model: String, name: String, version: String, change: ChangeContext
    ) throws -> ModelAlias {
        let modelSeq = try modelSeq(db, model)
        let seq = try versionSeq(db, model: model, version: version)
        let before = try fetchAlias(db, model: model, name: name)
        try db.execute(
            sql: """
                INSERT INTO aliases (model_seq, name, version_seq, set_at, set_by) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (model_seq, name) DO UPDATE SET version_seq = excluded.version_seq, set_at = excluded.set_at,
                    set_by = excluded.set_by
                """, arguments: [modelSeq, name, seq, change.time, change.subject])
        guard let after = try fetchAlias(db, model: model, name: name) else {
            throw HubStoreError(.ioFailed, "alias '\(name)' of \(model) vanished while it was being set")
        }
        try audit(db, change, .aliasSet, AuditTarget.alias(model, name), before: before, after: after)
        return after
    }

    static let aliasQuery = """
        SELECT a.*, m.name AS model_name, v.version AS version FROM aliases a
        JOIN models m ON m.seq = a.model_seq JOIN versions v ON v.seq = a.version_seq
        """

    static func fetchAlias(_ db: Database, model: String, name: String) throws -> ModelAlias? {
        try Row.fetchOne(db, sql: aliasQuery + " WHERE m.name = ? AND a.name = ?", arguments: [model, name])
            .map { try alias(from: $0) }
    }

    static func alias(from row: Row) throws -> ModelAlias {
        ModelAlias(
            model: row["model_name"], name: row["name"], version: try semanticVersion(row["version"]), setAt: row["set_at"],
            setBy: row["set_by"])
    }

    /// Parses a version the database holds; a bad one means the file was edited by hand.
    static func semanticVersion(_ text: String) throws -> SemanticVersion {
        guard let version = SemanticVersion(text) else {
            throw HubStoreError(.ioFailed, "the database holds version '\(text)', which is not a semantic version")
        }
        return version
    }

    /// The `seq` of a version, or `notFound`.
    static func versionSeq(_ db: Database, model: String, version: String) throws -> Int64 {
        let seq = try Int64.fetchOne(
            db, sql: "SELECT v.seq FROM versions v JOIN models m ON m.seq = v.model_seq WHERE m.name = ? AND v.version = ?",
            arguments: [model, version])
        guard let seq else { throw HubStoreError(.notFound, "model '\(model)' has no version \(version)") }
        return seq
    }

    static func fetchVersion(_ db: Database, model: String, version: String) throws -> ModelVersion? {
        let row = try Row.fetchOne(
            db,
            sql: """
                SELECT v.*, m.name AS model_name FROM versions v JOIN models m ON m.seq = v.model_seq
                WHERE m.name = ? AND v.version = ?
                """, arguments: [model, version])
        return try row.map { try Self.version(from: $0, db: db) }
    }

    static func version(from row: Row, db: Database) throws -> ModelVersion {
        let version = try semanticVersion(row["version"])
        let metadata = JSONValue(text: row["metadata"] as String)
        let digests = JSONValue(text: row["data_digests"] as String)
        let tags = try Row.fetchAll(
            db, sql: "SELECT key, value FROM version_tags WHERE version_seq = ? ORDER BY key", arguments: [row["seq"] as Int64])
        return ModelVersion(
            model: row["model_name"], version: version,
            metadata: { if case .object(let members) = metadata { members } else { [:] } }(),
            lineage: Lineage(
                parent: (row["parent_version"] as String?).flatMap(SemanticVersion.init), trainingRun: row["training_run"],
                federatedRound: row["federated_round"], importSource: row["import_source"],
                dataDigests: { if case .array(let items) = digests { items.compactMap(\.stringValue) } else { [] } }()),
            modelFile: ArtifactReference(digest: row["model_digest"], size: row["model_size"]),
            package: ArtifactReference(digest: row["package_digest"], size: row["package_size"]),
            packageId: row["package_id"], signingKeyId: row["signing_key_id"], registeredAt: row["registered_at"],
            registeredBy: row["registered_by"],
            tags: Dictionary(uniqueKeysWithValues: tags.map { ($0["key"] as String, $0["value"] as String) }))
    }
}

extension JSONValue {
    /// The string, when this is one.
    var stringValue: String? {
        if case .string(let text) = self { text } else { nil }
    }
}
