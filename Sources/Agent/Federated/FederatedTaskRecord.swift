import Foundation

/// What the agent persists about one federated task, as the `state` JSON of its
/// `federated_rounds` row (keyed by the task id: a round has one task per device and iteration).
struct FederatedTaskRecord: Codable, Equatable {
    /// Where the task is.
    enum Status: String, Codable {
        /// Received and being checked.
        case accepted
        /// Local training started (a restart finds it here only after a crash: it is not retried).
        case training
        /// The update waits in the outbox (the outbox sends it at QoS 1).
        case queued
        /// Declined; `reason` says why.
        case skipped
        /// Training, encoding or storing failed; `reason` says why.
        case failed
        /// The update was still unsent when the deadline passed and was dropped.
        case expired
    }

    var status: Status
    var taskId: String
    var roundId: String
    var roundNumber: Int
    var kind: String
    var modelName: String
    var deadline: Int64
    /// The update's message id (its outbox row), once queued.
    var updateId: String?
    var reason: String?

    /// The row's JSON.
    func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// A record from a row's JSON, or nil if it is not one.
    static func decode(_ json: String) -> FederatedTaskRecord? {
        try? JSONDecoder().decode(FederatedTaskRecord.self, from: Data(json.utf8))
    }
}
