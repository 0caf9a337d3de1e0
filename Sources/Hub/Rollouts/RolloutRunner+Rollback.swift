import Core
import Crypto
import Foundation

/// Rolled-back rollouts are checked for a while: devices still on the candidate get the rollback
/// order again (`RollbackOrders`).
extension RolloutRunner {
    // MARK: - Rollback checks

    /// Checks every recently rolled-back rollout once (`resendRollback`).
    func checkRollbacks() async {
        if !readRollbacks {
            guard let all = try? await store.rollouts(activeOnly: false) else { return }
            checkedRollbacks.formUnion(all.filter(isChecked).map(\.id))
            readRollbacks = true
        }
        for id in checkedRollbacks {
            do {
                guard let record = try await store.rollout(id: id), try await resendRollback(record) else {
                    checkedRollbacks.remove(id)
                    rollbackOrders[id] = nil
                    continue
                }
            } catch {
                _ = await fail(id, "rollback check failed: \(error)")
            }
        }
    }

    func isChecked(_ record: RolloutRecord) -> Bool {
        guard case .rolledBack = record.state, record.baseline != nil else { return false }
        return now() - record.updatedAt < settings.rollbackCheckPeriod.wholeMilliseconds
    }

    /// Sends a fresh rollback order to each device of `record` heard from on the candidate
    /// `rollbackResendInterval` after its last order (the broker acknowledging an order does not
    /// mean the device acted on it); false once the check period is over.
    func resendRollback(_ record: RolloutRecord) async throws -> Bool {
        guard isChecked(record), let baseline = record.baseline else { return false }
        let targets = Set(try await targetDevices(LabelSelector(parsing: record.selector)))
        let stuck = await monitor.allStatuses().filter {
            targets.contains($0.device) && $0.modelName == record.model && $0.modelVersion == record.candidate
        }
        // Decided and counted with no await in between: another tick may check meanwhile.
        let before = rollbackOrders[record.id] ?? RollbackOrders()
        var orders = before
        let decision = orders.decide(
            stuck: stuck.map { ($0.device, $0.lastSeen) }, rolledBackAt: record.updatedAt, now: now(),
            interval: settings.rollbackResendInterval.wholeMilliseconds, limit: settings.rollbackResends)
        rollbackOrders[record.id] = orders
        let due = decision.resend
        // Devices not reached are tried again on the next tick.
        var reached: Set<String> = []
        defer {
            for device in due where !reached.contains(device) { rollbackOrders[record.id]?.sent[device] = before.sent[device] }
        }
        for device in decision.abandoned {
            await log(
                record.id,
                "\(device) still runs \(record.candidate) after \(settings.rollbackResends + 1) rollback orders; no more are sent"
            )
        }
        guard !due.isEmpty, let transport else { return true }
        let target = try await assignmentTarget(record, version: baseline)
        let (published, failure) = await publisher.publish(target, to: try due.map { try DeviceID($0) }, via: transport)
        reached = Set(published.map(\.rawValue))
        if !published.isEmpty {
            await log(
                record.id,
                "sent the rollback to \(baseline) again to \(published.count) devices still on \(record.candidate): "
                    + published.prefix(5).map(\.rawValue).joined(separator: ", ") + (published.count > 5 ? ", …" : ""))
        }
        if let failure { _ = await fail(record.id, "resending the rollback failed after \(published.count) devices: \(failure)") }
        return true
    }

    func fail(_ id: String, _ text: String) async -> Bool {
        if failing[id] != text {
            failing[id] = text
            await log(id, text)
        }
        return false
    }
}
