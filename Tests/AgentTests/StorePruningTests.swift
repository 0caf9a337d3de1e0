import Core
import Testing

@testable import Agent

@Suite("Store pruning", .timeLimit(.minutes(5)))
struct StorePruningTests {
    static let budget = StorageBudget(maxBytes: 1 << 20)

    /// Labels `range` and has the broker acknowledge them (sealed and acknowledged): call it
    /// before attaching labels meant to stay unsent, since sealing takes every unsealed label.
    static func labelAndSend(_ store: AgentStore, _ range: Range<Int>) async throws {
        _ = try await store.attachFeedback(labels(range))
        let ids = try await store.sealFeedback(for: try DeviceID("dev-1"), maxBatches: 1000)
        try await store.acknowledge(ids)
    }

    @Test("over the budget, the oldest unlabelled predictions go first; labels are kept and the files shrink")
    func unlabelledFirst() async throws {
        try await withStore({ $0.budget = Self.budget }) { store, _ in
            await recordAndFlush(store, 0..<3000, inputBytes: 1000)
            try await Self.labelAndSend(store, 200..<400)
            _ = try await store.attachFeedback(labels(0..<200))
            let report = try await store.enforceBudget()

            #expect(report.bytesBefore > Self.budget.maxBytes)
            #expect(report.bytesAfter <= Self.budget.maxBytes)
            #expect(report.bytesAfter < report.bytesBefore)
            #expect(store.bytesOnDisk == report.bytesAfter)
            #expect(report.unlabelledDeleted > 0)
            #expect(report.sentLabelledDeleted == 0)
            #expect(!report.overBudget)
            #expect(try await store.feedbackCounts() == (unbatched: 200, inFlight: 0, sent: 200))
            #expect(try await store.prediction("req-400") == nil)
            #expect(try await store.prediction("req-2999") != nil)
            #expect(try await store.predictionCount() == 3000 - report.unlabelledDeleted)
            // Below the budget nothing more happens.
            let again = try await store.enforceBudget()
            #expect(again.unlabelledDeleted == 0 && again.sentLabelledDeleted == 0)
        }
    }

    @Test("when unlabelled ones are not enough, predictions with acknowledged labels go next; unsent labels stay")
    func sentLabelledNext() async throws {
        try await withStore({ $0.budget = Self.budget }) { store, _ in
            await recordAndFlush(store, 0..<2500, inputBytes: 1000)
            try await Self.labelAndSend(store, 100..<2300)
            _ = try await store.attachFeedback(labels(0..<100))
            let report = try await store.enforceBudget()

            #expect(report.unlabelledDeleted == 200)
            #expect(report.sentLabelledDeleted > 0)
            #expect(report.bytesAfter <= Self.budget.maxBytes)
            let counts = try await store.feedbackCounts()
            #expect(counts.unbatched == 100)
            #expect(counts.sent == 2200 - report.sentLabelledDeleted)
            // Oldest acknowledged first.
            #expect(try await store.prediction("req-100") == nil)
            #expect(try await store.prediction("req-2299")?.feedback?.sent == true)
            #expect(try await store.prediction("req-0")?.feedback?.label == "7")
        }
    }

    @Test("unsent labels and the outbox are never pruned, even when they alone exceed the budget")
    func unsentNeverPruned() async throws {
        try await withStore({ $0.budget = Self.budget }) { store, _ in
            await recordAndFlush(store, 0..<1600, inputBytes: 1000)
            _ = try await store.attachFeedback(labels(0..<1500))
            try await store.sealFeedback(for: try DeviceID("dev-1"), maxBatches: 1)
            let report = try await store.enforceBudget()

            #expect(report.overBudget)
            #expect(report.unlabelledDeleted == 100)
            #expect(report.sentLabelledDeleted == 0)
            #expect(try await store.feedbackCounts() == (unbatched: 500, inFlight: 1000, sent: 0))
            #expect(try await store.outboxCount() == 1)
            #expect(try await store.predictionCount() == 1500)
        }
    }

    @Test("the writer enforces the budget by itself while predictions stream in")
    func writerEnforces() async throws {
        try await withStore({
            $0.budget = Self.budget
            $0.budgetCheckInterval = 100
        }) { store, _ in
            for start in stride(from: 0, to: 4000, by: 100) {
                await recordAndFlush(store, start..<(start + 100), inputBytes: 1000)
            }
            _ = try await store.attachFeedback(labels(3900..<3950))
            // One more write: the writer's budget check after the previous one has finished.
            await recordAndFlush(store, 4000..<4001)
            let count = try await store.predictionCount()
            #expect(count < 4001)
            #expect(try await store.feedbackCounts().unbatched == 50)
            // Within the budget plus what arrived since the last check (100 rows of about 1.1 kB)
            // and the WAL's own limit.
            #expect(store.bytesOnDisk <= Self.budget.maxBytes + 200 * 1024 + AgentStore.walSizeLimit(Self.budget))
        }
    }
}
