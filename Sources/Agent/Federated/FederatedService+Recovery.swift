import Core

/// Recovery after a restart and expiry of queued updates.
extension FederatedService {
    /// Recovers from a restart: a task found `accepted` or `training` was interrupted and is
    /// reported failed (never trained twice); a queued update past its deadline leaves the outbox.
    public func recover() async {
        let rounds = (try? await store.federatedRounds()) ?? []
        for row in rounds {
            guard var record = FederatedTaskRecord.decode(row.state) else { continue }
            switch record.status {
            case .accepted, .training:
                if let id = record.updateId, (try? await store.isInOutbox(id)) == true {
                    record.status = .queued
                    await save(record)
                    continue
                }
                record.status = .failed
                record.reason = "interrupted by an agent restart"
                await save(record)
                metrics?.failed.increment()
                await report(record, phase: .failed, error: .trainingFailed, reason: record.reason)
            case .queued, .skipped, .failed, .expired:
                break
            }
        }
        await dropExpiredUpdates()
        try? await store.pruneFederatedRounds(keeping: Self.retainedRounds)
    }

    /// Removes queued updates whose deadline has passed from the outbox (call on reconnection:
    /// the hub would ignore them).
    public func dropExpiredUpdates() async {
        let now = wallClock()
        for row in (try? await store.federatedRounds(status: FederatedTaskRecord.Status.queued.rawValue)) ?? [] {
            guard var record = FederatedTaskRecord.decode(row.state), record.deadline <= now, let id = record.updateId else {
                continue
            }
            // Already acknowledged rows are gone from the outbox: only a dropped one expires.
            guard (try? await store.discardOutboxMessage(id)) == true else { continue }
            record.status = .expired
            record.reason = "the update was not sent before the deadline"
            await save(record)
            log("federated: \(record.taskId): update dropped, deadline passed")
        }
    }
}
