import GRDB
import Testing

@testable import Agent

@Suite("Store writer overflow policy")
struct StoreWriterPolicyTests {
    @Test("when the writer falls behind, record drops and counts predictions, never blocks; feedback is kept")
    func overflowDropsPredictionsKeepsFeedback() async throws {
        let capacity = 100
        try await withStore({
            $0.predictionQueueCapacity = capacity
            $0.busyTimeout = .seconds(300)
        }) { store, directory in
            await recordAndFlush(store, 0..<1)
            // Another connection holds the write lock: the writer is stuck on its next transaction,
            // as it would be behind a slow disk.
            var blockerConfiguration = Configuration()
            blockerConfiguration.allowsUnsafeTransactions = true
            let blocker = try DatabaseQueue(path: "\(directory)/agent.sqlite", configuration: blockerConfiguration)
            try blocker.inDatabase { db in try db.execute(sql: "BEGIN IMMEDIATE") }

            var accepted: [Int] = []
            for index in 1...10_000 where store.record(samplePrediction(index)) { accepted.append(index) }
            // The loop above finished while the disk was locked: recording never waited.
            let during = store.statistics
            #expect(during.predictionsDropped == 10_000 - accepted.count)
            // At most the queue's capacity plus the batch the writer took before it got stuck.
            #expect(accepted.count <= 2 * capacity)
            #expect(during.predictionsDropped >= 10_000 - 2 * capacity)
            #expect(during.predictionsQueued <= capacity)

            // Feedback is never dropped: it waits for the disk and is durable when it returns.
            let feedback = Task { try await store.attachFeedback(predictionID: "req-0", label: "kept", time: 1) }
            try blocker.inDatabase { db in try db.execute(sql: "COMMIT") }
            try blocker.close()
            #expect(try await feedback.value == .attached)

            await store.flush()
            let after = store.statistics
            #expect(after.predictionsWritten == accepted.count + 1)
            #expect(after.predictionsFailed == 0)
            #expect(try await store.predictionCount() == accepted.count + 1)
            #expect(try await store.prediction("req-0")?.feedback?.label == "kept")
            // A dropped prediction cannot be labelled, and says so.
            let dropped = try #require((1...10_000).first { !accepted.contains($0) })
            #expect(try await store.attachFeedback(predictionID: "req-\(dropped)", label: "x", time: 1) == .unknownPrediction)
        }
    }

    @Test("flush waits for the writer; statistics add up after a burst")
    func burstAddsUp() async throws {
        try await withStore({ $0.predictionQueueCapacity = 1000 }) { (store, _) async throws in
            var accepted = 0
            for index in 0..<20_000 where store.record(samplePrediction(index)) { accepted += 1 }
            await store.flush()
            let statistics = store.statistics
            #expect(statistics.predictionsAccepted == accepted)
            #expect(statistics.predictionsAccepted + statistics.predictionsDropped == 20_000)
            #expect(statistics.predictionsWritten == accepted)
            #expect(statistics.predictionsQueued == 0)
            #expect(try await store.predictionCount() == accepted)
        }
    }
}
