import Core
import Testing

@testable import Agent

@Suite("Drift recorder")
struct DriftRecorderTests {
    static let t0 = DriftFixtures.t0

    private func recorder(
        _ time: DriftTime, model: Model = DriftFixtures.model(inputs: 2, outputs: 3),
        configuration: DriftConfiguration = DriftConfiguration(windowLength: .seconds(60))
    ) throws -> DriftRecorder {
        try DriftRecorder(name: "tiny", version: "1", model: model, configuration: configuration, now: time.clock)
    }

    private func observe(_ recorder: DriftRecorder, rows: Int) {
        recorder.observe(
            feeds: [[Float](repeating: 0.5, count: rows * 2)], rows: rows,
            outputs: DriftFixtures.outputs([Float](repeating: 0, count: rows * 3), rows: rows))
    }

    @Test("windows are aligned to the window length, start no earlier than the recorder, and roll on the clock")
    func rollover() throws {
        let time = DriftTime(Self.t0 + 5_000)
        let recorder = try recorder(time)
        time.set(Self.t0 + 10_000)
        observe(recorder, rows: 2)
        time.set(Self.t0 + 59_999)
        observe(recorder, rows: 1)
        recorder.roll()
        #expect(recorder.takeClosed().isEmpty)
        time.set(Self.t0 + 60_000)
        observe(recorder, rows: 4)
        let first = recorder.takeClosed()
        #expect(first.map { [$0.start, $0.end] } == [[Self.t0 + 5_000, Self.t0 + 60_000]])
        #expect(first.first?.sketches.rows == 3)
        // Quiet minutes make no windows; the due window closes at its end, not at the roll.
        time.set(Self.t0 + 300_000)
        recorder.roll()
        let second = recorder.takeClosed()
        #expect(second.map { [$0.start, $0.end] } == [[Self.t0 + 60_000, Self.t0 + 120_000]])
        #expect(second.first?.sketches.rows == 4)
        #expect(recorder.isIdle)
    }

    @Test("close ends the open window now; checkpoint reports only changes")
    func closeAndCheckpoint() throws {
        let time = DriftTime(Self.t0)
        let recorder = try recorder(time)
        #expect(recorder.checkpoint() == nil)
        observe(recorder, rows: 3)
        time.set(Self.t0 + 20_000)
        let checkpoint = try #require(recorder.checkpoint())
        #expect(checkpoint.end == Self.t0 + 20_000 && checkpoint.sketches.rows == 3)
        #expect(recorder.checkpoint() == nil)
        recorder.close()
        #expect(recorder.takeClosed().map(\.end) == [Self.t0 + 20_000])
        // The next window starts where the closed one ended, inside the same aligned minute.
        observe(recorder, rows: 1)
        recorder.close()
        let next = try #require(recorder.takeClosed().first)
        #expect(next.start == Self.t0 + 20_000 && next.end == Self.t0 + 20_001)
    }

    @Test("classifier predictions are the arg max, one bin per class; a row with NaN scores counts as missing")
    func classPredictions() throws {
        let time = DriftTime(Self.t0)
        let recorder = try recorder(time)
        let scores: [Float] = [0.1, 0.7, 0.2, 5, -1, 2, -3, -2, -1, 0, .nan, 1]
        recorder.observe(feeds: [[Float](repeating: 0, count: 8)], rows: 4, outputs: DriftFixtures.outputs(scores, rows: 4))
        let predictions = try #require(recorder.checkpoint()?.sketches.predictions)
        #expect(predictions.edges == [0.5, 1.5])
        #expect(predictions.counts == [1, 1, 1])
        #expect(predictions.missing == 1)
    }

    @Test("a single-value output is sketched as a value over its own edges")
    func regressionPredictions() throws {
        let time = DriftTime(Self.t0)
        let model = DriftFixtures.model(inputs: 2, outputs: 1, task: "regression")
        let recorder = try recorder(
            time, model: model, configuration: DriftConfiguration(predictionEdges: [0, 10, 20]))
        recorder.observe(
            feeds: [[Float](repeating: 1, count: 8)], rows: 4, outputs: DriftFixtures.outputs([-5, 3, 12, 25], rows: 4))
        let predictions = try #require(recorder.checkpoint()?.sketches.predictions)
        #expect(predictions.counts == [1, 1, 1, 1])
        #expect(predictions.sum == 35)
    }

    @Test("a batch whose sizes do not fit the model is skipped, not trapped on")
    func mismatchedBatch() throws {
        let time = DriftTime(Self.t0)
        let recorder = try recorder(time)
        recorder.observe(feeds: [[1, 2, 3]], rows: 2, outputs: [])
        recorder.observe(feeds: [[1, 2], [3, 4]], rows: 1, outputs: [])
        recorder.observe(feeds: [[1, 2]], rows: 0, outputs: [])
        let sketches = try #require(recorder.checkpoint()).sketches
        #expect(sketches.rows == 0)
        #expect(sketches.features.allSatisfy { $0.sketch.count == 0 && $0.sketch.missing == 0 })
    }

    @Test("edges: explicit per input, else the static quantization range, else the fallback range")
    func edgeChoice() throws {
        let bins = (0...16).map { Double($0) / 16 }
        let dynamic = try DriftLayout(model: DriftFixtures.model(inputs: 3, outputs: 2), configuration: DriftConfiguration())
        #expect(dynamic.blocks.map(\.edges) == [bins])
        #expect(dynamic.featureNames == ["input[0]", "input[1]", "input[2]"])
        let calibrated = DriftFixtures.model(inputs: 3, outputs: 2, calibration: [0, 0.5, 4, 1, 2, 3])
        let fromRange = try DriftLayout(model: calibrated, configuration: DriftConfiguration(bins: 8))
        #expect(fromRange.blocks[0].edges == (0...8).map { Double($0) / 2 })
        let explicit = try DriftLayout(model: calibrated, configuration: DriftConfiguration(inputEdges: ["input": [1, 2]]))
        #expect(explicit.blocks[0].edges == [1, 2])
        let capped = try DriftLayout(model: calibrated, configuration: DriftConfiguration(maxFeatures: 2))
        #expect(capped.featureNames == ["input[0]", "input[1]"])
    }

    @Test("the digits model's edges come from its input quantization range: 16 bins over 0…1 (pixels / 16)")
    func digitsEdges() throws {
        let layout = try DriftLayout(model: OIPFixtures.digitsModel, configuration: DriftConfiguration())
        #expect(layout.blocks.count == 1 && layout.blocks[0].sketched == 64)
        #expect(layout.blocks[0].edges == (0...16).map { Double($0) / 16 })
        #expect(layout.predictions == .argmax(classes: 10))
        #expect(layout.predictionEdges == (1...9).map { Double($0) - 0.5 })
    }

    @Test("settings out of range are refused with the key named")
    func invalidConfiguration() {
        let cases: [(DriftConfiguration, String)] = [
            (DriftConfiguration(windowLength: .milliseconds(10)), "drift.windowSeconds"),
            (DriftConfiguration(bins: 0), "drift.bins"),
            (DriftConfiguration(inputEdges: ["input": [2, 1]]), "drift.edges.input"),
            (DriftConfiguration(predictionEdges: [.nan]), "drift.predictionEdges"),
            (DriftConfiguration(maxFeatures: 0), "drift.maxFeatures"),
            (DriftConfiguration(flushInterval: .zero), "drift.flushSeconds"),
        ]
        for (configuration, key) in cases {
            #expect {
                try configuration.validate()
            } throws: { error in
                (error as? DriftError)?.code == .invalidConfiguration && (error as? DriftError)?.message.contains(key) == true
            }
        }
        #expect(throws: DriftError.self) {
            try DriftRecorder(
                name: "tiny", version: String(repeating: "v", count: 65), model: DriftFixtures.model(inputs: 1, outputs: 2),
                now: { 0 })
        }
    }
}
