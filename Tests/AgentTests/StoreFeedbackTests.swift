import Core
import Testing

@testable import Agent

@Suite("Store feedback")
struct StoreFeedbackTests {
    @Test("a label attaches to a prediction still queued in the writer")
    func attachToQueuedPrediction() async throws {
        try await withStore { store, _ in
            store.record(samplePrediction(1))
            // No flush: the writer writes the prediction first, in the same transaction.
            #expect(try await store.attachFeedback(predictionID: "req-1", label: "cat", time: 42) == .attached)
            let feedback = try #require(try await store.prediction("req-1")?.feedback)
            #expect(feedback == StoredFeedback(label: "cat", time: 42, batchID: nil, sent: false))
        }
    }

    @Test("unknown predictions and second labels are reported; the first label stays")
    func unknownAndRepeated() async throws {
        try await withStore { store, _ in
            await recordAndFlush(store, 0..<2)
            let results = try await store.attachFeedback([
                FeedbackInput(predictionID: "req-0", label: "a", time: 1),
                FeedbackInput(predictionID: "nope", label: "a", time: 1),
                FeedbackInput(predictionID: "req-0", label: "b", time: 2),
            ])
            #expect(results == [.attached, .unknownPrediction, .alreadyLabelled])
            #expect(try await store.prediction("req-0")?.feedback?.label == "a")
            #expect(try await store.feedbackCounts() == (unbatched: 1, inFlight: 0, sent: 0))
        }
    }

    @Test(
        "labels that could not be sent are refused and nothing of the call is stored",
        arguments: [
            FeedbackInput(predictionID: "req/0", label: "a", time: 1),
            FeedbackInput(predictionID: "req-0", label: "", time: 1),
            FeedbackInput(predictionID: "req-0", label: String(repeating: "x", count: 257), time: 1),
            FeedbackInput(predictionID: "req-0", label: "a\nb", time: 1),
            FeedbackInput(predictionID: "req-0", label: "a", time: -1),
        ])
    func invalidLabels(bad: FeedbackInput) async throws {
        try await withStore { (store, _) async throws in
            await recordAndFlush(store, 0..<2)
            let error = await #expect(throws: StoreError.self) {
                try await store.attachFeedback([FeedbackInput(predictionID: "req-1", label: "ok", time: 1), bad])
            }
            #expect(error?.code == .invalidRecord)
            #expect(error?.message.contains("feedback[1]") == true)
            #expect(try await store.prediction("req-1")?.feedback == nil)
        }
    }

    @Test("sealing makes FeedbackBatch messages of at most 1000 rows, one model version each, oldest first")
    func sealing() async throws {
        try await withStore { store, _ in
            for index in 0..<2500 { store.record(samplePrediction(index)) }
            for index in 2500..<2600 { store.record(samplePrediction(index, version: "2.0.0")) }
            _ = try await store.attachFeedback(labels(0..<2600))
            let device = try DeviceID("dev-1")
            let ids = try await store.sealFeedback(for: device)
            #expect(ids.count == 4)
            #expect(Set(ids).count == 4)
            #expect(try await store.sealFeedback(for: device).isEmpty)

            let entries = try await store.pendingOutbox(limit: 10)
            #expect(entries.map(\.id) == ids)
            let batches = try entries.map { try MessageCodec.decode(FeedbackBatch.self, from: $0.payload) }
            #expect(batches.map(\.rows.count) == [1000, 1000, 500, 100])
            #expect(batches.map(\.modelVersion) == ["1.0.0", "1.0.0", "1.0.0", "2.0.0"])
            #expect(batches.allSatisfy { $0.modelName?.rawValue == "digits" })
            #expect(zip(batches, ids).allSatisfy { $0.id == $1 })
            #expect(batches[0].rows.first?.predictionId == "req-0")
            #expect(batches[2].rows.last?.predictionId == "req-2499")
            #expect(entries.allSatisfy { $0.topic == Topic.feedback(device).name && $0.kind == .feedback })
            let all = batches.flatMap(\.rows).map(\.predictionId)
            #expect(Set(all).count == 2600)
            #expect(try await store.feedbackCounts() == (unbatched: 0, inFlight: 2600, sent: 0))
            #expect(try await store.prediction("req-5")?.feedback?.batchID == ids[0])
        }
    }

    @Test("acknowledging a feedback batch marks its labels sent and deletes the message")
    func acknowledgeMarksSent() async throws {
        try await withStore { store, _ in
            await recordAndFlush(store, 0..<1500)
            _ = try await store.attachFeedback(labels(0..<1500))
            let ids = try await store.sealFeedback(for: try DeviceID("dev-1"))
            #expect(try await store.acknowledge([ids[0]]) == 1)
            #expect(try await store.acknowledge([ids[0]]) == 0)
            #expect(try await store.feedbackCounts() == (unbatched: 0, inFlight: 500, sent: 1000))
            #expect(try await store.outboxCount() == 1)
            #expect(try await store.prediction("req-0")?.feedback?.sent == true)
            #expect(try await store.prediction("req-1499")?.feedback?.sent == false)
        }
    }

    @Test("labels from many concurrent callers are each durable when their call returns")
    func concurrentCallers() async throws {
        try await withStore { store, _ in
            await recordAndFlush(store, 0..<400)
            let results = try await withThrowingTaskGroup(of: FeedbackResult.self) { group in
                for index in 0..<400 {
                    group.addTask { try await store.attachFeedback(predictionID: "req-\(index)", label: "x", time: 1) }
                }
                return try await group.reduce(into: [FeedbackResult]()) { $0.append($1) }
            }
            #expect(results.count == 400 && results.allSatisfy { $0 == .attached })
            #expect(try await store.feedbackCounts().unbatched == 400)
            #expect(store.statistics.feedbackAttached == 400)
        }
    }
}
