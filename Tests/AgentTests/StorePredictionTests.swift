import Core
import Testing

@testable import Agent

@Suite("Store predictions")
struct StorePredictionTests {
    @Test("a recorded prediction is stored with its inputs, their SHA-256 digest, outputs and latency")
    func recordAndRead() async throws {
        try await withStore { store, _ in
            let record = samplePrediction(1)
            #expect(store.record(record))
            await store.flush()
            let stored = try #require(try await store.prediction("req-1"))
            #expect(stored.inputs == record.inputs)
            #expect(stored.inputDigest == PackageDigest.sha256(Array(record.inputs.utf8)))
            #expect(stored.outputs == record.outputs)
            #expect(stored.latencyMicroseconds == 250)
            #expect(stored.modelName == "digits" && stored.modelVersion == "1.0.0")
            #expect(stored.time == record.time)
            #expect(stored.feedback == nil)
            #expect(try await store.prediction("req-2") == nil)
        }
    }

    @Test("with digestOnly the inputs are not kept, only their digest")
    func digestOnly() async throws {
        try await withStore({ $0.inputLogging = .digestOnly }) { store, _ in
            await recordAndFlush(store, 0..<3)
            let stored = try #require(try await store.prediction("req-2"))
            #expect(stored.inputs == nil)
            #expect(stored.inputDigest == PackageDigest.sha256(Array(samplePrediction(2).inputs.utf8)))
            // Nothing to train on without inputs.
            _ = try await store.attachFeedback(predictionID: "req-2", label: "1", time: 1)
            #expect(try await store.labelledExamples(modelName: "digits", limit: 10).isEmpty)
        }
    }

    @Test("a repeated request id is stored once and counted as ignored")
    func duplicateRequestID() async throws {
        try await withStore { (store, _) async throws in
            await recordAndFlush(store, 0..<5)
            var again = samplePrediction(3)
            again.outputs = "[1.0,0.0]"
            store.record(again)
            await store.flush()
            #expect(try await store.predictionCount() == 5)
            #expect(try await store.prediction("req-3")?.outputs == "[0.1,0.9]")
            let statistics = store.statistics
            #expect(statistics.predictionsAccepted == 6)
            #expect(statistics.predictionsWritten == 5)
            #expect(statistics.predictionsIgnored == 1)
            #expect(statistics.predictionsDropped == 0)
        }
    }

    @Test("recent predictions come newest first; labelled examples carry inputs and labels")
    func readsAndExamples() async throws {
        try await withStore { store, _ in
            await recordAndFlush(store, 0..<10)
            #expect(try await store.recentPredictions(limit: 3).map(\.requestID) == ["req-9", "req-8", "req-7"])
            _ = try await store.attachFeedback(labels(2..<5))
            let examples = try await store.labelledExamples(modelName: "digits", limit: 10)
            #expect(examples.map(\.requestID) == ["req-2", "req-3", "req-4"])
            #expect(examples.allSatisfy { $0.label == "7" && $0.inputs == samplePrediction(0).inputs })
            #expect(try await store.labelledExamples(modelName: "other", limit: 10).isEmpty)
        }
    }

    @Test("the writer batches: many predictions take far fewer transactions than rows")
    func writerBatches() async throws {
        try await withStore { store, _ in
            for index in 0..<5000 { store.record(samplePrediction(index)) }
            await store.flush()
            let statistics = store.statistics
            #expect(statistics.predictionsWritten == 5000)
            #expect(statistics.writeTransactions >= 1)
            #expect(statistics.writeTransactions < 5000)
        }
    }

    @Test("close writes what is queued; a reopened store has every accepted prediction")
    func closeFlushes() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = StoreConfiguration(path: "\(directory)/agent.sqlite")
            let store = try await AgentStore.open(configuration)
            for index in 0..<3000 { store.record(samplePrediction(index)) }
            await store.close()
            #expect(store.record(samplePrediction(9999)) == false)
            let accepted = store.statistics.predictionsAccepted

            let reopened = try await AgentStore.open(configuration)
            #expect(try await reopened.predictionCount() == accepted)
            #expect(accepted == 3000)
            await reopened.close()
        }
    }
}
