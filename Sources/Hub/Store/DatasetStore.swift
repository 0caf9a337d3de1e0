import Foundation
import GRDB

/// A labelled data set kept on the hub for training: a CSV file in the artifact store.
public struct Dataset: Sendable, Equatable, Codable {
    /// Its name (model-name rules).
    public var name: String
    /// SHA-256 of the CSV bytes (the artifact, and the lineage of what is trained on it).
    public var digest: String
    /// Bytes.
    public var size: Int
    /// Data rows (the header excluded).
    public var rows: Int
    /// Column names, in order.
    public var columns: [String]
    /// When it was uploaded, ms since the epoch.
    public var createdAt: Int64
    /// Who uploaded it.
    public var createdBy: String
}

/// Where datasets are listed.
public protocol DatasetStore: Sendable {
    /// Adds or replaces `dataset` (and writes the audit row).
    func putDataset(_ dataset: Dataset, change: ChangeContext) async throws(HubStoreError)
    /// The dataset `name`, if any.
    func dataset(name: String) async throws(HubStoreError) -> Dataset?
    /// Every dataset, by name.
    func datasets() async throws(HubStoreError) -> [Dataset]
}

extension HubSchema {
    /// Datasets: name → CSV artifact digest, with its shape.
    static func createDatasets(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE datasets (
                    name TEXT PRIMARY KEY NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
                    digest TEXT NOT NULL CHECK (length(digest) = 64),
                    size INTEGER NOT NULL CHECK (size > 0),
                    rows INTEGER NOT NULL CHECK (rows >= 0),
                    columns TEXT NOT NULL CHECK (json_valid(columns)),
                    created_at INTEGER NOT NULL,
                    created_by TEXT NOT NULL
                );
                """)
    }
}

extension SQLiteHubStore: DatasetStore {
    public func putDataset(_ dataset: Dataset, change: ChangeContext) async throws(HubStoreError) {
        try await database.write("storing dataset '\(dataset.name)'") { db in
            let before = try Self.fetchDataset(db, name: dataset.name)
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO datasets (name, digest, size, rows, columns, created_at, created_by)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    dataset.name, dataset.digest, dataset.size, dataset.rows, try JSONValue.encode(dataset.columns),
                    dataset.createdAt, dataset.createdBy,
                ])
            try Self.audit(db, change, .datasetPut, AuditTarget.dataset(dataset.name), before: before, after: dataset)
        }
    }

    public func dataset(name: String) async throws(HubStoreError) -> Dataset? {
        try await database.read("reading dataset '\(name)'") { db in try Self.fetchDataset(db, name: name) }
    }

    public func datasets() async throws(HubStoreError) -> [Dataset] {
        try await database.read("listing datasets") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM datasets ORDER BY name").map(Self.dataset(from:))
        }
    }

    private static func fetchDataset(_ db: Database, name: String) throws -> Dataset? {
        try Row.fetchOne(db, sql: "SELECT * FROM datasets WHERE name = ?", arguments: [name]).map(dataset(from:))
    }

    private static func dataset(from row: Row) throws -> Dataset {
        let columns: String = row["columns"]
        return Dataset(
            name: row["name"], digest: row["digest"], size: row["size"], rows: row["rows"],
            columns: try JSONDecoder().decode([String].self, from: Data(columns.utf8)), createdAt: row["created_at"],
            createdBy: row["created_by"])
    }
}
