import Core
import GRDB

extension AgentStore {
    /// The most bytes of a label (the `FeedbackBatch` schema's limit).
    public static let maxLabelBytes = 256

    // MARK: - Attaching labels

    /// Attaches `label` to the logged prediction `predictionID`; durable when it returns.
    ///
    /// A prediction recorded earlier but still queued is written first, in the same transaction.
    public func attachFeedback(predictionID: String, label: String, time: Int64) async throws(StoreError) -> FeedbackResult {
        try await attachFeedback([FeedbackInput(predictionID: predictionID, label: label, time: time)])[0]
    }

    /// Attaches several labels in one transaction; one result per input, in order. Every input
    /// is checked first: if one breaks a rule, nothing is stored and the error names it.
    public func attachFeedback(_ items: [FeedbackInput]) async throws(StoreError) -> [FeedbackResult] {
        for (index, item) in items.enumerated() { try Self.check(item, index: index) }
        return try await StoreError.wrap("writing feedback") { try await writer.attach(items) }
    }

    /// Checks that a label can be sent as a `FeedbackBatch` row later, so sealing never fails.
    static func check(_ item: FeedbackInput, index: Int) throws(StoreError) {
        let which = "feedback[\(index)]"
        guard IdentifierRules.isValid(item.predictionID) else {
            throw StoreError(
                .invalidRecord,
                "\(which): the prediction id '\(item.predictionID.prefix(64))' is not a protocol identifier "
                    + "(1 to 128 of A-Z a-z 0-9 . _ - :), so it could not be sent to the hub")
        }
        let bytes = item.label.utf8.count
        guard bytes >= 1, bytes <= maxLabelBytes else {
            throw StoreError(.invalidRecord, "\(which): the label is \(bytes) bytes; give 1 to \(maxLabelBytes)")
        }
        guard !item.label.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw StoreError(.invalidRecord, "\(which): the label contains a control character")
        }
        guard item.time >= 0 else { throw StoreError(.invalidRecord, "\(which): the time is negative (\(item.time))") }
    }

    /// Inserts labels for predictions already in the database.
    static func insertFeedback(_ items: [FeedbackInput], _ db: Database) throws -> [FeedbackResult] {
        let insert = try db.cachedStatement(
            sql: """
                INSERT OR IGNORE INTO feedback (prediction_seq, label, time)
                SELECT seq, ?, ? FROM predictions WHERE request_id = ?
                """)
        let exists = try db.cachedStatement(sql: "SELECT 1 FROM predictions WHERE request_id = ?")
        var results: [FeedbackResult] = []
        results.reserveCapacity(items.count)
        for item in items {
            insert.bindText(item.label, at: 1)
            insert.bindInteger(item.time, at: 2)
            insert.bindText(item.predictionID, at: 3)
            try insert.stepToEnd(db)
            if db.changesCount == 1 {
                results.append(.attached)
            } else {
                let known = try Bool.fetchOne(exists, arguments: [item.predictionID]) ?? false
                results.append(known ? .alreadyLabelled : .unknownPrediction)
            }
        }
        return results
    }

    // MARK: - State of the labels

    /// How many labels are waiting to be sealed, sealed but not acknowledged, and acknowledged.
    public func feedbackCounts() async throws(StoreError) -> (unbatched: Int, inFlight: Int, sent: Int) {
        try await StoreError.wrap("counting feedback") {
            try await pool.read { db in
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT
                          coalesce(sum(batch_id IS NULL), 0),
                          coalesce(sum(batch_id IS NOT NULL AND sent = 0), 0),
                          coalesce(sum(sent), 0)
                        FROM feedback
                        """)!
                return (row[0], row[1], row[2])
            }
        }
    }

    // MARK: - Sealing labels into outbox messages

    /// Moves unbatched labels into `FeedbackBatch` outbox messages for `device`: up to `maxRows`
    /// rows per message, one model version per message, oldest first, at most `maxBatches`
    /// messages per call. Each message's bytes and id are fixed here, so a resend after a lost
    /// acknowledgement repeats them exactly. Returns the ids of the new messages.
    @discardableResult
    public func sealFeedback(
        for device: DeviceID, maxRows: Int = FeedbackBatch.maxRows, maxBatches: Int = 16
    ) async throws(StoreError) -> [String] {
        let rowsPerBatch = max(1, min(maxRows, FeedbackBatch.maxRows))
        let topic = Topic.feedback(device).name
        let now = configuration.now
        let makeID = configuration.makeMessageID
        let sealed = try await StoreError.wrap("sealing feedback batches") {
            try await pool.write { db in
                var ids: [String] = []
                while ids.count < maxBatches,
                    let id = try Self.sealOne(db, topic: topic, rows: rowsPerBatch, time: now(), id: makeID("fb"))
                {
                    ids.append(id)
                }
                return ids
            }
        }
        if !sealed.isEmpty { outboxSignal.notify() }
        return sealed
    }

    /// Seals the oldest unbatched labels of one model version into one outbox row; nil if none.
    private static func sealOne(_ db: Database, topic: String, rows limit: Int, time: Int64, id: String) throws -> String? {
        guard
            let first = try Row.fetchOne(
                db,
                sql: """
                    SELECT p.model_name, p.model_version FROM feedback f JOIN predictions p ON p.seq = f.prediction_seq
                    WHERE f.batch_id IS NULL ORDER BY f.prediction_seq LIMIT 1
                    """)
        else { return nil }
        let name: String = first[0]
        let version: String = first[1]
        let selected = try Row.fetchAll(
            db,
            sql: """
                SELECT f.prediction_seq, p.request_id, f.label, f.time
                FROM feedback f JOIN predictions p ON p.seq = f.prediction_seq
                WHERE f.batch_id IS NULL AND p.model_name = ? AND p.model_version = ?
                ORDER BY f.prediction_seq LIMIT ?
                """, arguments: [name, version, limit])
        let rows = selected.map { FeedbackBatch.Row(predictionId: $0[1], label: $0[2], time: $0[3]) }
        let batch = FeedbackBatch(
            id: id, time: time, modelName: ModelName(rawValue: name),
            modelVersion: isSendableVersion(version) ? version : nil, rows: rows)
        let payload = try MessageCodec.encode(batch)
        try insertOutbox(db, id: id, kind: .feedback, topic: topic, payload: payload, created: time)
        let mark = try db.cachedStatement(sql: "UPDATE feedback SET batch_id = ? WHERE prediction_seq = ?")
        for row in selected {
            let seq: Int64 = row[0]
            try mark.execute(arguments: [id, seq])
        }
        return id
    }

    /// Whether `version` fits the `modelVersion` field of a feedback batch.
    private static func isSendableVersion(_ version: String) -> Bool {
        !version.isEmpty && version.utf8.count <= 64
            && !version.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }
}
