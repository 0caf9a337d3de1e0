import Core

/// How a task ends: its persisted state, its counter, its log line and its event.
extension FederatedService {
    /// Declines the task: `skipped` state, counter and event with `reason`.
    func skip(_ record: inout FederatedTaskRecord, _ reason: String, version: String?) async {
        record.status = .skipped
        record.reason = reason
        await save(record)
        metrics?.skipped.increment()
        log("federated: \(record.taskId) skipped: \(reason)")
        await report(record, phase: .skipped, version: version, reason: reason)
    }

    /// Gives the task up: `failed` state, counter and event (`trainingFailed`) with `reason`.
    func fail(_ record: inout FederatedTaskRecord, _ reason: String, version: String?) async {
        record.status = .failed
        record.reason = reason
        await save(record)
        metrics?.failed.increment()
        log("federated: \(record.taskId) failed: \(reason)")
        await report(record, phase: .failed, error: .trainingFailed, version: version, reason: reason)
    }

    /// Persists `record` as the task's row (a failure is logged: the task goes on).
    func save(_ record: FederatedTaskRecord) async {
        let row = FederatedRoundState(
            roundID: record.taskId, status: record.status.rawValue, updated: wallClock(), state: record.json())
        do {
            try await store.saveFederatedRound(row)
        } catch {
            log("federated: cannot save the state of task \(record.taskId): \(error.message)")
        }
    }

    /// Puts a `federated` event in the outbox, as every device event travels.
    func report(
        _ record: FederatedTaskRecord, phase: DeviceEvent.Phase, error: DeviceEvent.ErrorKind? = nil, version: String? = nil,
        reason: String?
    ) async {
        let event = DeviceEvent(
            id: store.configuration.makeMessageID("fl-event"), time: wallClock(), kind: .federated, phase: phase, error: error,
            reason: reason.map { String(decoding: $0.utf8.prefix(512), as: UTF8.self) },
            modelName: try? ModelName(record.modelName), modelVersion: version.flatMap(AgentSession.sendable),
            rolloutId: record.roundId)
        do {
            try await store.enqueue(event, kind: .event, on: .events(device))
        } catch {
            log("federated: cannot keep the \(phase.rawValue) event: \(error.message)")
        }
    }

    /// A fixed shuffling seed per task (FNV-1a of its id), so a task trains the same way twice.
    static func seed(_ id: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in id.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}
