import Core
import GRDB

/// The sketches of one model version's inputs and outputs over one time window.
public struct DriftWindow: Sendable, Equatable {
    /// The model's name.
    public var modelName: String
    /// The model's version.
    public var modelVersion: String
    /// The window's start, ms since the Unix epoch (inclusive).
    public var start: Int64
    /// The window's end, ms since the Unix epoch (exclusive).
    public var end: Int64
    /// The sketches as JSON (the drift module's format).
    public var sketch: String
    /// Whether it was sent to the hub.
    public var reported: Bool

    /// A drift window.
    public init(modelName: String, modelVersion: String, start: Int64, end: Int64, sketch: String, reported: Bool = false) {
        self.modelName = modelName
        self.modelVersion = modelVersion
        self.start = start
        self.end = end
        self.sketch = sketch
        self.reported = reported
    }
}

extension AgentStore {
    /// Saves a window, replacing the one with the same model, version and start (a window grows
    /// until it closes).
    public func saveDriftWindow(_ window: DriftWindow) async throws(StoreError) {
        guard window.end > window.start else {
            throw StoreError(
                .invalidRecord, "drift window of \(window.modelName): end \(window.end) is not after start \(window.start)")
        }
        try await StoreError.wrap("saving a drift window") {
            try await pool.write { db in try Self.upsertDriftWindow(db, window) }
        }
    }

    /// Saves `window` as reported and enqueues `report` on `topic` in one transaction, so a
    /// window is neither reported twice nor marked reported without its message.
    public func reportDriftWindow(_ window: DriftWindow, as report: DriftReport, on topic: Topic) async throws(StoreError) {
        guard window.end > window.start else {
            throw StoreError(
                .invalidRecord, "drift window of \(window.modelName): end \(window.end) is not after start \(window.start)")
        }
        guard IdentifierRules.isValid(report.id) else {
            throw StoreError(.invalidRecord, "outbox message id '\(report.id.prefix(64))' is not a protocol identifier")
        }
        let payload: [UInt8]
        do {
            payload = try MessageCodec.encode(report)
        } catch {
            throw StoreError(.invalidRecord, "the drift report \(report.id) cannot be encoded", underlying: error)
        }
        var row = window
        row.reported = true
        let reported = row
        let created = configuration.now()
        try await StoreError.wrap("reporting a drift window") {
            do {
                try await pool.write { db in
                    try Self.upsertDriftWindow(db, reported)
                    try Self.insertOutbox(db, id: report.id, kind: .drift, topic: topic.name, payload: payload, created: created)
                }
            } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                throw StoreError(.invalidRecord, "outbox message id '\(report.id)' is already in the outbox", underlying: error)
            }
        }
        outboxSignal.notify()
    }

    private static func upsertDriftWindow(_ db: Database, _ window: DriftWindow) throws {
        try db.execute(
            sql: """
                INSERT INTO drift_windows (model_name, model_version, window_start, window_end, sketch, reported)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (model_name, model_version, window_start) DO UPDATE SET
                  window_end = excluded.window_end, sketch = excluded.sketch, reported = excluded.reported
                """,
            arguments: [window.modelName, window.modelVersion, window.start, window.end, window.sketch, window.reported])
    }

    /// Windows not yet reported, oldest first.
    public func unreportedDriftWindows(limit: Int = 100) async throws(StoreError) -> [DriftWindow] {
        try await driftWindows(where: "reported = 0", limit: limit)
    }

    /// Windows of `modelName`, oldest first.
    public func driftWindows(modelName: String, limit: Int = 100) async throws(StoreError) -> [DriftWindow] {
        try await driftWindows(where: "model_name = ?", arguments: [modelName], limit: limit)
    }

    /// Marks a window reported.
    public func markDriftWindowReported(modelName: String, modelVersion: String, start: Int64) async throws(StoreError) {
        try await StoreError.wrap("marking a drift window reported") {
            try await pool.write { db in
                try db.execute(
                    sql: "UPDATE drift_windows SET reported = 1 WHERE model_name = ? AND model_version = ? AND window_start = ?",
                    arguments: [modelName, modelVersion, start])
            }
        }
    }

    /// Deletes reported windows that ended before `time`; returns how many.
    @discardableResult
    public func deleteReportedDriftWindows(endedBefore time: Int64) async throws(StoreError) -> Int {
        try await StoreError.wrap("deleting drift windows") {
            try await pool.write { db in
                try db.execute(sql: "DELETE FROM drift_windows WHERE reported = 1 AND window_end < ?", arguments: [time])
                return db.changesCount
            }
        }
    }

    private func driftWindows(where filter: String, arguments: [String] = [], limit: Int) async throws(StoreError)
        -> [DriftWindow]
    {
        let statementArguments = StatementArguments(arguments) + [limit]
        return try await StoreError.wrap("reading drift windows") {
            try await pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT model_name, model_version, window_start, window_end, sketch, reported FROM drift_windows
                        WHERE \(filter) ORDER BY window_start, seq LIMIT ?
                        """, arguments: statementArguments
                ).map { row in
                    DriftWindow(
                        modelName: row[0], modelVersion: row[1], start: row[2], end: row[3], sketch: row[4], reported: row[5])
                }
            }
        }
    }
}
