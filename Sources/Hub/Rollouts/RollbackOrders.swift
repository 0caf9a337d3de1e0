/// The rollback orders a rolled-back rollout sent each device, and which devices still on the
/// candidate get a fresh one: pure, so the runner decides and counts with no await in between.
struct RollbackOrders: Sendable {
    /// The last order sent to a device (ms since the epoch) and how many fresh ones it got.
    struct Sent: Sendable {
        var time: Int64
        var count: Int
    }

    /// What to do with the devices still on the candidate.
    struct Decision: Sendable, Equatable {
        /// Devices sent a fresh order now.
        var resend: [String] = []
        /// Devices that used up their fresh orders now (reported once).
        var abandoned: [String] = []
    }

    /// The orders since the rollback, by device (absent: only the first, at the rollback).
    var sent: [String: Sent] = [:]

    /// Decides at `now` for devices still on the candidate, each with when it was last heard
    /// from: one heard `interval` ms after its last order gets a fresh one, up to `limit`; the
    /// decision is counted at once.
    mutating func decide(
        stuck: [(device: String, lastSeen: Int64?)], rolledBackAt: Int64, now: Int64, interval: Int64, limit: Int
    ) -> Decision {
        var decision = Decision()
        for (device, lastSeen) in stuck {
            let last = sent[device] ?? Sent(time: rolledBackAt, count: 0)
            guard let lastSeen, lastSeen >= last.time + interval, last.count <= limit else { continue }
            if last.count < limit { decision.resend.append(device) } else { decision.abandoned.append(device) }
            sent[device] = Sent(time: now, count: last.count + 1)
        }
        return decision
    }
}
