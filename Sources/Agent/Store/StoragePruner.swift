import Foundation
import GRDB

/// What one pass of the storage budget did.
public struct PruneReport: Sendable, Equatable {
    /// Bytes of the database, WAL and shared-memory files before.
    public var bytesBefore: Int64
    /// Bytes after.
    public var bytesAfter: Int64
    /// Predictions without feedback deleted (oldest first).
    public var unlabelledDeleted = 0
    /// Predictions whose feedback was already acknowledged deleted, with that feedback.
    public var sentLabelledDeleted = 0
    /// Still over the budget after deleting all that the policy allows (the rest is unsent
    /// feedback, the outbox and state that is never pruned).
    public var overBudget = false
}

/// Keeps the database within its storage budget.
///
/// Policy, in order, until the files are at or below the budget's target: delete the oldest
/// predictions that have no feedback; then the oldest predictions whose feedback the broker has
/// acknowledged (with that feedback). Unsent feedback (and its prediction), the outbox, the
/// update journal, installed models, drift windows and federated state are never pruned. After
/// each deletion free pages are given back to the file system (incremental vacuum) and the WAL is
/// checkpointed and truncated, so the files really shrink.
actor StoragePruner {
    let pool: DatabasePool
    let path: String
    let budget: StorageBudget?
    let checkInterval: Int
    private var writtenSinceCheck = 0

    init(pool: DatabasePool, path: String, budget: StorageBudget?, checkInterval: Int) {
        self.pool = pool
        self.path = path
        self.budget = budget
        self.checkInterval = checkInterval
    }

    /// Counts predictions written; enforces the budget every `checkInterval` of them. A failure
    /// is not the writer's: the next check tries again.
    func noteWritten(_ count: Int) async {
        guard budget != nil else { return }
        writtenSinceCheck += count
        guard writtenSinceCheck >= checkInterval else { return }
        writtenSinceCheck = 0
        _ = try? await enforce()
    }

    /// The bytes the database takes on disk: the file, its WAL and its shared-memory index.
    nonisolated func bytesOnDisk() -> Int64 {
        [path, path + "-wal", path + "-shm"].reduce(0) { total, file in
            let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.int64Value
            return total + (size ?? 0)
        }
    }

    /// Prunes by the policy if the files exceed the budget.
    func enforce() async throws -> PruneReport {
        let before = bytesOnDisk()
        var report = PruneReport(bytesBefore: before, bytesAfter: before)
        guard let budget, before > budget.maxBytes else { return report }
        var current = try await compact()
        for pass in Pass.allCases {
            while current > budget.targetBytes {
                let deleted = try await delete(pass, current: current, target: budget.targetBytes)
                guard deleted > 0 else { break }
                switch pass {
                case .unlabelled: report.unlabelledDeleted += deleted
                case .sentLabelled: report.sentLabelledDeleted += deleted
                }
                current = try await compact()
            }
        }
        report.bytesAfter = current
        report.overBudget = current > budget.maxBytes
        return report
    }

    enum Pass: CaseIterable {
        case unlabelled, sentLabelled

        var candidates: String {
            switch self {
            case .unlabelled:
                "SELECT p.seq FROM predictions p WHERE NOT EXISTS (SELECT 1 FROM feedback f WHERE f.prediction_seq = p.seq) ORDER BY p.seq"
            case .sentLabelled:
                "SELECT prediction_seq FROM feedback WHERE sent = 1 ORDER BY prediction_seq"
            }
        }
    }

    /// Deletes the oldest candidates of `pass`: about the share of all predictions by which the
    /// files exceed the target, plus 5 % (a round that falls short is followed by another).
    private func delete(_ pass: Pass, current: Int64, target: Int64) async throws -> Int {
        try await pool.write { db in
            let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM predictions") ?? 0
            let excess = Double(current - target) / Double(max(current, 1))
            let count = max(64, Int((Double(total) * excess * 1.05).rounded(.up)))
            try db.execute(sql: "DELETE FROM predictions WHERE seq IN (\(pass.candidates) LIMIT ?)", arguments: [count])
            return db.changesCount
        }
    }

    /// Gives free pages back to the file system and truncates the WAL; returns the new size.
    func compact() async throws -> Int64 {
        try await pool.writeWithoutTransaction { db in
            let mode = try Int.fetchOne(db, sql: "PRAGMA auto_vacuum") ?? 0
            if mode == 2 {
                try db.execute(sql: "PRAGMA incremental_vacuum")
            } else {
                // A file created without incremental auto-vacuum: rewrite it whole.
                try db.execute(sql: "VACUUM")
            }
            // Readers in the middle of a transaction make TRUNCATE give up; the next pass retries.
            try? db.checkpoint(.truncate)
        }
        return bytesOnDisk()
    }
}

extension AgentStore {
    /// Prunes by the storage budget's policy now (the writer also does so every
    /// `budgetCheckInterval` predictions). Does nothing without a budget or below it.
    @discardableResult
    public func enforceBudget() async throws(StoreError) -> PruneReport {
        try await StoreError.wrap("pruning to the storage budget") { try await pruner.enforce() }
    }

    /// The bytes the database takes on disk (file, WAL and shared-memory index).
    public var bytesOnDisk: Int64 { pruner.bytesOnDisk() }
}
