import Core
import GRDB

extension AgentStore {
    // MARK: - Serving path

    /// Queues `prediction` for the background writer without waiting. Returns false when it was
    /// dropped: the queue is full (the writer is behind; see `StoreStatistics.predictionsDropped`)
    /// or the store is closing. Serving never waits for the disk.
    @discardableResult
    public func record(_ prediction: PredictionRecord) -> Bool {
        writer.record(prediction)
    }

    /// Returns once every prediction recorded before the call is written (or failed).
    public func flush() async {
        await writer.flush()
    }

    // MARK: - Reads

    /// The stored prediction with `requestID`, with its feedback, or nil.
    public func prediction(_ requestID: String) async throws(StoreError) -> StoredPrediction? {
        try await StoreError.wrap("reading a prediction") {
            try await pool.read { db in
                try Row.fetchOne(db, sql: Self.predictionSelect + " WHERE p.request_id = ?", arguments: [requestID])
                    .map(Self.storedPrediction)
            }
        }
    }

    /// The newest `limit` predictions, newest first.
    public func recentPredictions(limit: Int) async throws(StoreError) -> [StoredPrediction] {
        try await StoreError.wrap("reading predictions") {
            try await pool.read { db in
                try Row.fetchAll(db, sql: Self.predictionSelect + " ORDER BY p.seq DESC LIMIT ?", arguments: [limit])
                    .map(Self.storedPrediction)
            }
        }
    }

    /// How many predictions are stored.
    public func predictionCount() async throws(StoreError) -> Int {
        try await StoreError.wrap("counting predictions") {
            try await pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM predictions") ?? 0 }
        }
    }

    /// Labelled predictions of `modelName` whose inputs were kept, oldest first: the examples for
    /// local training.
    public func labelledExamples(modelName: String, limit: Int) async throws(StoreError) -> [LabelledExample] {
        try await StoreError.wrap("reading labelled examples") {
            try await pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT p.request_id, p.model_version, p.inputs, f.label, f.time
                        FROM feedback f JOIN predictions p ON p.seq = f.prediction_seq
                        WHERE p.model_name = ? AND p.inputs IS NOT NULL
                        ORDER BY f.prediction_seq LIMIT ?
                        """, arguments: [modelName, limit]
                ).map { row in
                    LabelledExample(
                        requestID: row[0], modelVersion: row[1], inputs: row[2], label: row[3], time: row[4])
                }
            }
        }
    }

    // MARK: - SQL

    /// Inserts `predictions` (ignoring request ids already stored); returns how many were new.
    static func insert(_ predictions: [PredictionRecord], logging: InputLogging, _ db: Database) throws -> Int {
        guard !predictions.isEmpty else { return 0 }
        let statement = try db.cachedStatement(
            sql: """
                INSERT OR IGNORE INTO predictions
                (request_id, time, model_name, model_version, inputs, input_digest, outputs, latency_us)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """)
        var inserted = 0
        for p in predictions {
            statement.bindText(p.requestID, at: 1)
            statement.bindInteger(p.time, at: 2)
            statement.bindText(p.modelName, at: 3)
            statement.bindText(p.modelVersion, at: 4)
            statement.bindText(logging == .full ? p.inputs : nil, at: 5)
            statement.bindText(PackageDigest.sha256(Array(p.inputs.utf8)), at: 6)
            statement.bindText(p.outputs, at: 7)
            statement.bindInteger(max(0, p.latencyMicroseconds), at: 8)
            try statement.stepToEnd(db)
            inserted += db.changesCount
        }
        return inserted
    }

    static let predictionSelect = """
        SELECT p.request_id, p.time, p.model_name, p.model_version, p.inputs, p.input_digest, p.outputs,
               p.latency_us, f.label, f.time, f.batch_id, f.sent
        FROM predictions p LEFT JOIN feedback f ON f.prediction_seq = p.seq
        """

    static func storedPrediction(_ row: Row) -> StoredPrediction {
        let label: String? = row[8]
        return StoredPrediction(
            requestID: row[0], time: row[1], modelName: row[2], modelVersion: row[3], inputs: row[4],
            inputDigest: row[5], outputs: row[6], latencyMicroseconds: row[7],
            feedback: label.map { StoredFeedback(label: $0, time: row[9], batchID: row[10], sent: row[11]) })
    }
}
