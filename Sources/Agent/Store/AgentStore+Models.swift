import GRDB

/// Where an installed model stands.
public enum ModelInstallState: String, Sendable, Codable, CaseIterable {
    /// Verified and on disk, not serving yet.
    case staged
    /// Serving; at most one version per model name.
    case active
    /// Served before the active version; kept for rollback.
    case previous
    /// Refused or rolled back; kept for inspection until removed.
    case failed
}

/// A model package on the device's disk.
public struct InstalledModel: Sendable, Equatable {
    /// The model's name.
    public var name: String
    /// The model's semantic version.
    public var version: String
    /// Where its file is.
    public var path: String
    /// SHA-256 of the file, 64 lowercase hex digits.
    public var digest: String
    /// Where it stands.
    public var state: ModelInstallState
    /// When it was installed, ms since the Unix epoch.
    public var installed: Int64

    /// An installed model.
    public init(name: String, version: String, path: String, digest: String, state: ModelInstallState, installed: Int64) {
        self.name = name
        self.version = version
        self.path = path
        self.digest = digest
        self.state = state
        self.installed = installed
    }
}

extension AgentStore {
    /// Adds or replaces the model `model.name`@`model.version`. Making it `active` demotes the
    /// model's active version to `previous` in the same transaction.
    public func saveInstalledModel(_ model: InstalledModel) async throws(StoreError) {
        guard model.digest.count == 64, model.digest.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw StoreError(
                .invalidRecord, "installed model \(model.name)@\(model.version): the digest is not 64 lowercase hex digits")
        }
        try await StoreError.wrap("saving an installed model") {
            try await pool.write { db in
                if model.state == .active { try Self.demoteActive(db, name: model.name, except: model.version) }
                try db.execute(
                    sql: """
                        INSERT INTO installed_models (name, version, path, digest, state, installed) VALUES (?, ?, ?, ?, ?, ?)
                        ON CONFLICT (name, version) DO UPDATE SET
                          path = excluded.path, digest = excluded.digest, state = excluded.state, installed = excluded.installed
                        """,
                    arguments: [model.name, model.version, model.path, model.digest, model.state.rawValue, model.installed])
            }
        }
    }

    /// Sets the state of `name`@`version`; false if it is not installed. Activating demotes the
    /// current active version to `previous` in the same transaction.
    @discardableResult
    public func setModelState(name: String, version: String, to state: ModelInstallState) async throws(StoreError) -> Bool {
        try await StoreError.wrap("changing a model's state") {
            try await pool.write { db in
                let known = try Bool.fetchOne(
                    db, sql: "SELECT 1 FROM installed_models WHERE name = ? AND version = ?", arguments: [name, version])
                guard known == true else { return false }
                if state == .active { try Self.demoteActive(db, name: name, except: version) }
                try db.execute(
                    sql: "UPDATE installed_models SET state = ? WHERE name = ? AND version = ?",
                    arguments: [state.rawValue, name, version])
                return true
            }
        }
    }

    /// Removes `name`@`version`; false if it was not installed.
    @discardableResult
    public func removeInstalledModel(name: String, version: String) async throws(StoreError) -> Bool {
        try await StoreError.wrap("removing an installed model") {
            try await pool.write { db in
                try db.execute(sql: "DELETE FROM installed_models WHERE name = ? AND version = ?", arguments: [name, version])
                return db.changesCount == 1
            }
        }
    }

    /// Installed models (of `name`, if given), by name then install time.
    public func installedModels(name: String? = nil) async throws(StoreError) -> [InstalledModel] {
        let filter = name == nil ? "" : "WHERE name = ?"
        let arguments: StatementArguments = name.map { [$0] } ?? []
        return try await StoreError.wrap("reading installed models") {
            try await pool.read { db in
                try Row.fetchAll(
                    db,
                    sql:
                        "SELECT name, version, path, digest, state, installed FROM installed_models \(filter) ORDER BY name, installed, version",
                    arguments: arguments
                ).map { row in
                    let raw: String = row[4]
                    return InstalledModel(
                        name: row[0], version: row[1], path: row[2], digest: row[3],
                        state: ModelInstallState(rawValue: raw) ?? .failed, installed: row[5])
                }
            }
        }
    }

    /// The active version of `name`, if any.
    public func activeModel(name: String) async throws(StoreError) -> InstalledModel? {
        try await installedModels(name: name).first { $0.state == .active }
    }

    private static func demoteActive(_ db: Database, name: String, except version: String) throws {
        try db.execute(
            sql: "UPDATE installed_models SET state = 'previous' WHERE name = ? AND state = 'active' AND version <> ?",
            arguments: [name, version])
    }
}
