import Core
import Foundation
import GRDB

/// What an outbox row carries; an open set (new kinds need no migration).
public struct OutboxKind: RawRepresentable, Hashable, Sendable {
    /// The stored value.
    public var rawValue: String
    /// A kind from its stored value.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// A `FeedbackBatch`; acknowledging it marks its labels sent.
    public static let feedback = OutboxKind(rawValue: "feedback")
    /// A `DeviceEvent`.
    public static let event = OutboxKind(rawValue: "event")
    /// A `DriftReport`.
    public static let drift = OutboxKind(rawValue: "drift")
    /// Anything else (telemetry, federated updates).
    public static let other = OutboxKind(rawValue: "other")
}

/// One message waiting in the outbox to be published at QoS 1.
public struct OutboxEntry: Sendable, Equatable {
    /// The row's place in the outbox: later rows have larger numbers.
    public var sequence: Int64
    /// The message id: the hub drops repeats of it.
    public var id: String
    /// What it carries.
    public var kind: OutboxKind
    /// The topic to publish on.
    public var topic: String
    /// The exact bytes to publish (the same on every attempt).
    public var payload: [UInt8]
    /// When it was enqueued, ms since the Unix epoch.
    public var created: Int64
    /// How many times publishing it was started.
    public var attempts: Int

    /// The MQTT message to publish: QoS 1, not retained.
    public var message: Message { Message(topic: topic, payload: payload, qos: .atLeastOnce, retain: false) }
}

extension AgentStore {
    /// Adds a message to the outbox; it is published, in order, until the broker acknowledges it.
    /// Throws `invalidRecord` if `id` is not a protocol identifier or already in the outbox.
    public func enqueue(id: String, kind: OutboxKind, topic: String, payload: [UInt8]) async throws(StoreError) {
        guard IdentifierRules.isValid(id) else {
            throw StoreError(.invalidRecord, "outbox message id '\(id.prefix(64))' is not a protocol identifier")
        }
        guard !topic.isEmpty else { throw StoreError(.invalidRecord, "outbox message \(id) has an empty topic") }
        let created = configuration.now()
        try await StoreError.wrap("enqueuing an outbox message") {
            do {
                try await pool.write { db in
                    try Self.insertOutbox(db, id: id, kind: kind, topic: topic, payload: payload, created: created)
                }
            } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                throw StoreError(.invalidRecord, "outbox message id '\(id)' is already in the outbox", underlying: error)
            }
        }
        outboxSignal.notify()
    }

    /// Encodes `message` and adds it to the outbox under its own id, on `topic`.
    public func enqueue<M: ControlMessage>(_ message: M, kind: OutboxKind, on topic: Topic) async throws(StoreError) {
        let payload: [UInt8]
        do {
            payload = try MessageCodec.encode(message)
        } catch {
            throw StoreError(.invalidRecord, "the \(M.schema) message \(message.id) cannot be encoded", underlying: error)
        }
        try await enqueue(id: message.id, kind: kind, topic: topic.name, payload: payload)
    }

    /// The oldest `limit` outbox rows after `sequence` (0: from the start), oldest first.
    public func pendingOutbox(limit: Int, after sequence: Int64 = 0) async throws(StoreError) -> [OutboxEntry] {
        try await StoreError.wrap("reading the outbox") {
            try await pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: "SELECT seq, id, kind, topic, payload, created, attempts FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                    arguments: [sequence, limit]
                ).map { row in
                    OutboxEntry(
                        sequence: row[0], id: row[1], kind: OutboxKind(rawValue: row[2]), topic: row[3],
                        payload: Array(row[4] as Data), created: row[5], attempts: row[6])
                }
            }
        }
    }

    /// Counts a publish attempt of each of `ids`.
    public func recordAttempts(_ ids: [String]) async throws(StoreError) {
        guard !ids.isEmpty else { return }
        try await StoreError.wrap("counting outbox attempts") {
            try await pool.write { db in
                let statement = try db.cachedStatement(sql: "UPDATE outbox SET attempts = attempts + 1 WHERE id = ?")
                for id in ids { try statement.execute(arguments: [id]) }
            }
        }
    }

    /// Deletes the rows the broker acknowledged; for feedback batches, marks their labels sent in
    /// the same transaction. Returns how many rows were deleted (ids not in the outbox are ignored).
    @discardableResult
    public func acknowledge(_ ids: [String]) async throws(StoreError) -> Int {
        guard !ids.isEmpty else { return 0 }
        return try await StoreError.wrap("deleting acknowledged outbox rows") {
            try await pool.write { db in
                let sent = try db.cachedStatement(sql: "UPDATE feedback SET sent = 1 WHERE batch_id = ?")
                let delete = try db.cachedStatement(sql: "DELETE FROM outbox WHERE id = ?")
                var deleted = 0
                for id in ids {
                    try sent.execute(arguments: [id])
                    try delete.execute(arguments: [id])
                    deleted += db.changesCount
                }
                return deleted
            }
        }
    }

    /// How many messages wait in the outbox.
    public func outboxCount() async throws(StoreError) -> Int {
        try await StoreError.wrap("counting the outbox") {
            try await pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM outbox") ?? 0 }
        }
    }

    static func insertOutbox(
        _ db: Database, id: String, kind: OutboxKind, topic: String, payload: [UInt8], created: Int64
    ) throws {
        try db.execute(
            sql: "INSERT INTO outbox (id, kind, topic, payload, created) VALUES (?, ?, ?, ?, ?)",
            arguments: [id, kind.rawValue, topic, Data(payload), created])
    }
}
