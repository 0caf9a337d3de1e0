import Core
import GRDB

/// What the agent keeps about one federated round it takes part in.
public struct FederatedRoundState: Sendable, Equatable {
    /// The round's id.
    public var roundID: String
    /// Where the agent is in the round ("accepted", "training", "sent", "skipped", ...).
    public var status: String
    /// When it last changed, ms since the Unix epoch.
    public var updated: Int64
    /// Anything else the federated client keeps, as a JSON object (key/value).
    public var state: String

    /// A round's state.
    public init(roundID: String, status: String, updated: Int64, state: String = "{}") {
        self.roundID = roundID
        self.status = status
        self.updated = updated
        self.state = state
    }
}

extension AgentStore {
    /// Saves (adds or replaces) a round's state.
    public func saveFederatedRound(_ round: FederatedRoundState) async throws(StoreError) {
        guard !round.roundID.isEmpty, !round.status.isEmpty else {
            throw StoreError(.invalidRecord, "federated round: the round id and status must not be empty")
        }
        try await StoreError.wrap("saving a federated round") {
            try await pool.write { db in
                try Self.upsert(db, round)
            }
        }
    }

    /// Adds or replaces `round`'s row.
    private static func upsert(_ db: Database, _ round: FederatedRoundState) throws {
        try db.execute(
            sql: """
                INSERT INTO federated_rounds (round_id, status, updated, state) VALUES (?, ?, ?, ?)
                ON CONFLICT (round_id) DO UPDATE SET
                  status = excluded.status, updated = excluded.updated, state = excluded.state
                """, arguments: [round.roundID, round.status, round.updated, round.state])
    }

    /// The state of round `roundID`, if the agent has one.
    public func federatedRound(_ roundID: String) async throws(StoreError) -> FederatedRoundState? {
        try await federatedRounds(where: "round_id = ?", roundID).first
    }

    /// Rounds with `status` (every round when nil), most recently updated first.
    public func federatedRounds(status: String? = nil) async throws(StoreError) -> [FederatedRoundState] {
        if let status { return try await federatedRounds(where: "status = ?", status) }
        return try await federatedRounds(where: "1 = 1", nil)
    }

    private func federatedRounds(where filter: String, _ value: String?) async throws(StoreError) -> [FederatedRoundState] {
        let arguments: StatementArguments = value.map { [$0] } ?? []
        return try await StoreError.wrap("reading federated rounds") {
            try await pool.read { db in
                try Row.fetchAll(
                    db,
                    sql:
                        "SELECT round_id, status, updated, state FROM federated_rounds WHERE \(filter) ORDER BY updated DESC, round_id",
                    arguments: arguments
                ).map { row in FederatedRoundState(roundID: row[0], status: row[1], updated: row[2], state: row[3]) }
            }
        }
    }
}

// MARK: - Federated client

extension AgentStore {
    /// Saves `round` and puts an update in the outbox in one transaction, so a crash leaves
    /// either both (the update goes out) or neither (the round is still training).
    public func saveFederatedRound(_ round: FederatedRoundState, enqueueing id: String, topic: String, payload: [UInt8])
        async throws(StoreError)
    {
        try await saveFederatedRound(round, enqueueing: id, topic: topic, parts: [payload])
    }

    /// Saves `round` and puts an update in the outbox in one transaction: one message `id`, or,
    /// with several `parts`, messages `id.part-0`, `id.part-1`, ... in order.
    public func saveFederatedRound(_ round: FederatedRoundState, enqueueing id: String, topic: String, parts: [[UInt8]])
        async throws(StoreError)
    {
        guard IdentifierRules.isValid(id), !topic.isEmpty, !parts.isEmpty else {
            throw StoreError(.invalidRecord, "federated update '\(id.prefix(64))': not a protocol identifier, no topic or no bytes")
        }
        let messages = parts.count == 1 ? [(id, parts[0])] : parts.enumerated().map { (FLUpdatePart.messageId(update: id, index: $0.offset), $0.element) }
        let created = configuration.now()
        try await StoreError.wrap("queueing a federated update") {
            try await pool.write { db in
                try Self.upsert(db, round)
                try Self.deleteUpdate(db, id)
                for (messageId, payload) in messages {
                    try Self.insertOutbox(db, id: messageId, kind: .other, topic: topic, payload: payload, created: created)
                }
            }
        }
        outboxSignal.notify()
    }

    /// Deletes update `id` (its one message, or its parts) from the outbox if it is still waiting
    /// (an update whose deadline passed). Returns whether any of it was there.
    @discardableResult
    public func discardOutboxMessage(_ id: String) async throws(StoreError) -> Bool {
        try await StoreError.wrap("discarding an outbox message") {
            try await pool.write { db in
                try Self.deleteUpdate(db, id)
                return db.changesCount > 0
            }
        }
    }

    /// Whether update `id` (its one message, or any of its parts) is still waiting for the broker.
    public func isInOutbox(_ id: String) async throws(StoreError) -> Bool {
        try await StoreError.wrap("reading the outbox") {
            try await pool.read { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM outbox WHERE \(Self.updateMessages)", arguments: Self.updateArguments(id))
                    ?? 0 > 0
            }
        }
    }

    /// The outbox rows of an update: its one message, or its parts (`id.part-N`: the ids
    /// between `id.part-` and `id.part.`); the arguments are `updateArguments(id)`.
    private static let updateMessages = "id = ? OR (id >= ? AND id < ?)"

    private static func updateArguments(_ id: String) -> StatementArguments { [id, id + ".part-", id + ".part."] }

    /// Deletes update `id` and its parts.
    private static func deleteUpdate(_ db: Database, _ id: String) throws {
        try db.execute(sql: "DELETE FROM outbox WHERE \(updateMessages)", arguments: updateArguments(id))
    }

    /// How many labelled predictions of `modelName` kept their inputs (what local training can
    /// use), counting at most `limit`.
    public func labelledExampleCount(modelName: String, limit: Int) async throws(StoreError) -> Int {
        try await StoreError.wrap("counting labelled examples") {
            try await pool.read { db in
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT count(*) FROM (
                          SELECT 1 FROM feedback f JOIN predictions p ON p.seq = f.prediction_seq
                          WHERE p.model_name = ? AND p.inputs IS NOT NULL LIMIT ?
                        )
                        """, arguments: [modelName, limit]) ?? 0
            }
        }
    }

    /// The newest `limit` labelled predictions of `modelName` whose inputs were kept, oldest first.
    public func latestLabelledExamples(modelName: String, limit: Int) async throws(StoreError) -> [LabelledExample] {
        try await StoreError.wrap("reading labelled examples") {
            try await pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT * FROM (
                          SELECT p.request_id, p.model_version, p.inputs, f.label, f.time, f.prediction_seq AS seq
                          FROM feedback f JOIN predictions p ON p.seq = f.prediction_seq
                          WHERE p.model_name = ? AND p.inputs IS NOT NULL
                          ORDER BY f.prediction_seq DESC LIMIT ?
                        ) ORDER BY seq
                        """, arguments: [modelName, limit]
                ).map { row in
                    LabelledExample(
                        requestID: row[0], modelVersion: row[1], inputs: row[2], label: row[3], time: row[4])
                }
            }
        }
    }

    /// Deletes all but the `keeping` most recently updated rounds.
    public func pruneFederatedRounds(keeping: Int) async throws(StoreError) {
        try await StoreError.wrap("pruning federated rounds") {
            try await pool.write { db in
                try db.execute(
                    sql: """
                        DELETE FROM federated_rounds WHERE round_id NOT IN (
                          SELECT round_id FROM federated_rounds ORDER BY updated DESC, round_id LIMIT ?)
                        """, arguments: [max(0, keeping)])
            }
        }
    }
}
