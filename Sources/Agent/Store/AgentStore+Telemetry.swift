import GRDB

/// Labels attached in a time window and how many agreed with the logged prediction, for
/// telemetry's `feedbackCount` and `feedbackAccuracy`.
public struct FeedbackSummary: Sendable, Equatable {
    /// Labels attached in the window.
    public var count: Int
    /// Of those, labels whose prediction logged exactly one predicted class (the `label` output
    /// of a classifier answering one row), so they can be compared.
    public var comparable: Int
    /// Comparable labels equal to the predicted class.
    public var matched: Int

    /// A summary.
    public init(count: Int, comparable: Int, matched: Int) {
        self.count = count
        self.comparable = comparable
        self.matched = matched
    }

    /// `matched / comparable`; nil when no label could be compared.
    public var accuracy: Double? { comparable == 0 ? nil : Double(matched) / Double(comparable) }
}

extension AgentStore {
    /// Labels attached (by their `time`) in `[start, end)`, ms since the epoch, and how many
    /// matched the prediction they label.
    ///
    /// A prediction's outputs are logged as JSON tensors; a classifier's include the `label`
    /// tensor of predicted class names (`ModelSignature.labelOutputName`). A label counts as
    /// comparable when that tensor holds exactly one name (a one-row request), and as matched
    /// when it is the same text. Labels of regression models or of batched requests count in
    /// `count` only. Labels that arrive later than the window are not counted again.
    public func feedbackSummary(from start: Int64, to end: Int64) async throws(StoreError) -> FeedbackSummary {
        guard end > start else { return FeedbackSummary(count: 0, comparable: 0, matched: 0) }
        return try await StoreError.wrap("summarizing feedback for telemetry") {
            try await pool.read { db in
                // CASE guards keep malformed or non-object outputs from failing the whole query
                // (SQLite does not promise to evaluate AND operands in order).
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT count(*), coalesce(sum(predicted IS NOT NULL), 0), coalesce(sum(predicted = label), 0)
                        FROM (
                            SELECT f.label AS label, (
                                SELECT json_extract(o.value, '$.data[0]')
                                FROM json_each(CASE WHEN json_valid(p.outputs) THEN p.outputs ELSE '[]' END) AS o
                                WHERE CASE WHEN o.type = 'object'
                                    THEN json_extract(o.value, '$.name') = ?
                                        AND json_type(o.value, '$.data') = 'array'
                                        AND json_array_length(o.value, '$.data') = 1
                                    ELSE 0 END
                                LIMIT 1
                            ) AS predicted
                            FROM feedback f JOIN predictions p ON p.seq = f.prediction_seq
                            WHERE f.time >= ? AND f.time < ?
                        )
                        """,
                    arguments: [ModelSignature.labelOutputName, start, end])!
                return FeedbackSummary(count: row[0], comparable: row[1], matched: row[2])
            }
        }
    }
}
