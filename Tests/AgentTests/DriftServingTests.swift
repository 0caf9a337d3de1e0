import Core
import Synchronization
import Testing

@testable import Agent

/// Passes batches on to a recorder, then tells the test (the model calls observers after the
/// results went out, so the test waits for this rather than for the response).
private final class ObservedBatches: DriftObserver {
    let recorder: DriftRecorder
    let stream: AsyncStream<Int>
    private let continuation: AsyncStream<Int>.Continuation

    init(_ recorder: DriftRecorder) {
        self.recorder = recorder
        (stream, continuation) = AsyncStream.makeStream(of: Int.self)
    }

    func observe(feeds: [[Float]], rows: Int, outputs: [Tensor]) {
        recorder.observe(feeds: feeds, rows: rows, outputs: outputs)
        continuation.yield(rows)
    }
}

@Suite("Drift on the serving path")
struct DriftServingTests {
    @Test("real inference on the digits model feeds the recorder the scaled pixels and the predicted classes")
    func observesInference() async throws {
        let time = DriftTime(DriftFixtures.t0)
        let model = OIPFixtures.digitsModel
        let recorder = try DriftRecorder(name: "digits", version: "1", model: model, now: time.clock)
        let observer = ObservedBatches(recorder)
        let served = try ServedModel(
            name: "digits", version: "1", model: model, backend: .best, batching: BatchingConfiguration(), metrics: nil,
            drift: observer)
        let rows = 7
        let pixels = OIPFixtures.pixels(rows: rows, from: 20)
        let result = try await served.infer([
            InferenceTensor(name: "input", datatype: .fp32, shape: [rows, 64], values: .numbers(pixels))
        ])
        var batches = observer.stream.makeAsyncIterator()
        var observed = 0
        while observed < rows, let batch = await batches.next() { observed += batch }
        #expect(observed == rows)

        let sketches = try #require(recorder.checkpoint()).sketches
        #expect(sketches.rows == Int64(rows))
        #expect(sketches.features.count == 64)
        let edges = (0...16).map { Double($0) / 16 }
        for (column, feature) in sketches.features.enumerated() {
            let values = (0..<rows).map { pixels[$0 * 64 + column] / 16 }
            #expect(feature.name == "input[\(column)]")
            #expect(feature.sketch == DriftFixtures.reference(values, edges: edges))
        }
        guard case .numbers(let scores) = result.outputs[0].values else {
            Issue.record("the first output is numeric")
            return
        }
        let predicted = Tensor(shape: [rows, 10], scalars: scores).argmaxRows()
        var expected = [Int64](repeating: 0, count: 10)
        for label in predicted { expected[label] += 1 }
        #expect(sketches.predictions?.counts == expected)
    }

    @Test("a ServedModel made without an observer serves as before")
    func noObserver() async throws {
        let served = try ServedModel(
            name: "digits", version: "1", model: OIPFixtures.digitsModel, backend: .best, batching: BatchingConfiguration(),
            metrics: nil)
        let result = try await served.infer([
            InferenceTensor(name: "input", datatype: .fp32, shape: [1, 64], values: .numbers(OIPFixtures.pixels(rows: 1)))
        ])
        #expect(result.rows == 1)
    }
}
