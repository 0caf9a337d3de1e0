import Core
import Synchronization

@testable import Agent

/// Milliseconds since the Unix epoch that only move when a test says so.
final class DriftTime: Sendable {
    private let value: Mutex<Int64>

    /// A clock at `start`.
    init(_ start: Int64) { value = Mutex(start) }

    /// The time now.
    var now: Int64 { value.withLock { $0 } }
    /// The clock as the recorder and service take it.
    var clock: @Sendable () -> Int64 { { self.now } }

    /// Moves the clock to `time`.
    func set(_ time: Int64) { value.withLock { $0 = time } }
}

/// Small models for the drift tests, built without training.
enum DriftFixtures {
    /// 1 800 000 000 000 ms: a multiple of every window length the tests use.
    static let t0: Int64 = 1_800_000_000_000

    /// An MLP over `inputs` values with `outputs` outputs; statically quantized on `calibration`
    /// rows when given, else dynamically.
    static func model(
        inputs: Int, outputs: Int, task: String = "classification", calibration: [Float]? = nil
    ) -> Model {
        let graph = try! ModelBuilder.build(
            .mlp(hidden: [4]), inputShape: [inputs], outputs: outputs, classifier: task == "classification", seed: 3)
        let model = Model(metadata: ModelMetadata(name: "tiny", task: task), graph: graph)
        guard let calibration else { return try! Quantizer().quantize(model) }
        let feed = Tensor(shape: [calibration.count / inputs, inputs], scalars: calibration)
        return try! Quantizer().quantize(model, calibrationFeeds: [graph.inputs[0].name: feed])
    }

    /// A batch of `rows` rows of a one-output model whose output rows are `scores`.
    static func outputs(_ scores: [Float], rows: Int) -> [Tensor] {
        [Tensor(shape: [rows, scores.count / rows], scalars: scores)]
    }

    /// The sketch `HistogramSketch.add` makes of `values` (the reference the recorder must match).
    static func reference(_ values: [Float], edges: [Double]) -> HistogramSketch {
        var sketch = HistogramSketch(edges: edges)
        for value in values { sketch.add(Double(value)) }
        return sketch
    }

    /// Deterministic pseudo-random values in [-2, 18), a quarter of them exactly on an edge of
    /// 0, 1, …, 16, and a few NaN and infinite ones.
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let bits = state >> 33
            switch bits % 16 {
            case 0: return .nan
            case 1: return bits % 32 == 1 ? .infinity : -.infinity
            case 2, 3, 4, 5: return Float(bits % 17)
            default: return Float(bits % 20_000) / 1000 - 2
            }
        }
    }
}
