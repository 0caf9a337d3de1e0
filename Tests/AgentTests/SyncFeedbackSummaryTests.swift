import Testing

@testable import Agent

/// `AgentStore.feedbackSummary(from:to:)`: labels in a window and how many matched the logged
/// predicted class, on outputs written exactly as the inference service logs them.
@Suite("Sync feedback summary")
struct SyncFeedbackSummaryTests {
    /// Outputs as `OIPResponder` logs them: probabilities plus the classifier's `label` tensor.
    static func classifierOutputs(_ classes: [String]) -> String {
        InferenceResponse.logJSON([
            InferenceTensor(
                name: "probabilities", datatype: .fp32, shape: [classes.count, 2],
                values: .numbers(Array(repeating: 0.5, count: classes.count * 2))),
            InferenceTensor(
                name: ModelSignature.labelOutputName, datatype: .bytes, shape: [classes.count],
                values: .bytes(classes.map { Array($0.utf8) })),
        ])
    }

    static func prediction(_ id: String, outputs: String) -> PredictionRecord {
        PredictionRecord(
            requestID: id, time: 1_800_000_000_000, modelName: "animals", modelVersion: "1.0.0", inputs: "[1]",
            outputs: outputs, latencyMicroseconds: 100)
    }

    @Test("counts labels attached in [start, end); accuracy over the one-class predictions only")
    func summary() async throws {
        try await withStore { store, _ in
            let records = [
                Self.prediction("p-cat-right", outputs: Self.classifierOutputs(["cat"])),
                Self.prediction("p-dog-wrong", outputs: Self.classifierOutputs(["dog"])),
                Self.prediction("p-bird-right", outputs: Self.classifierOutputs(["bird"])),
                Self.prediction("p-batch", outputs: Self.classifierOutputs(["cat", "dog"])),
                Self.prediction("p-regression", outputs: #"[{"name":"y","datatype":"FP32","shape":[1,1],"data":[3.5]}]"#),
                Self.prediction("p-plain", outputs: "[0.1,0.9]"),
                Self.prediction("p-late", outputs: Self.classifierOutputs(["cat"])),
                Self.prediction("p-early", outputs: Self.classifierOutputs(["cat"])),
            ]
            for record in records { #expect(store.record(record)) }
            await store.flush()
            let t0: Int64 = 1_800_000_100_000
            let inputs = [
                FeedbackInput(predictionID: "p-cat-right", label: "cat", time: t0),
                FeedbackInput(predictionID: "p-dog-wrong", label: "cat", time: t0 + 10),
                FeedbackInput(predictionID: "p-bird-right", label: "bird", time: t0 + 20),
                FeedbackInput(predictionID: "p-batch", label: "cat", time: t0 + 30),
                FeedbackInput(predictionID: "p-regression", label: "3.5", time: t0 + 40),
                FeedbackInput(predictionID: "p-plain", label: "1", time: t0 + 50),
                FeedbackInput(predictionID: "p-late", label: "cat", time: t0 + 1000),
                FeedbackInput(predictionID: "p-early", label: "cat", time: t0 - 1),
            ]
            #expect(try await store.attachFeedback(inputs).allSatisfy { $0 == .attached })

            let summary = try await store.feedbackSummary(from: t0, to: t0 + 1000)
            #expect(summary == FeedbackSummary(count: 6, comparable: 3, matched: 2))
            #expect(summary.accuracy == 2.0 / 3.0)
            #expect(
                try await store.feedbackSummary(from: t0 + 1000, to: t0 + 1001)
                    == FeedbackSummary(count: 1, comparable: 1, matched: 1))
            let none = try await store.feedbackSummary(from: t0 + 40, to: t0 + 60)
            #expect(none == FeedbackSummary(count: 2, comparable: 0, matched: 0))
            #expect(none.accuracy == nil)
            #expect(try await store.feedbackSummary(from: t0, to: t0) == FeedbackSummary(count: 0, comparable: 0, matched: 0))
        }
    }
}
