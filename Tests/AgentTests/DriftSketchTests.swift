import Core
import Testing

@testable import Agent

/// Bin counts against numpy, and merging. The expected counts were computed with numpy 2.4 as
/// `np.histogram(x.astype(np.float32).astype(np.float64), bins=[-inf, *edges, inf])[0]`: the
/// sketch's bins are numpy's with an underflow and an overflow bin added, so every bin is
/// half-open `[e(i), e(i+1))`. (Plain `np.histogram(x, edges)` closes its last bin instead: for
/// `uniform` below it gives `[2, 1, 1, 3, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 0, 4]`, the 4 being the
/// sketch's `[15, 16)` bin plus the two values equal to 16.) All sums here are exact in Double.
@Suite("Drift sketches")
struct DriftSketchTests {
    static let uniform: [Float] = [0, 0, 1, 3, 3, 3, 4, 7, 8, 12, 15, 15.5, 16, 16, 17, -1, -0.5, 2.5, 9.99]
    static let uniformEdges = (0...16).map(Double.init)
    static let uniformCounts: [Int64] = [2, 2, 1, 1, 3, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 0, 2, 3]

    static let uneven: [Float] = [-1, -1.5, 0, 0.25, 0.5, 0.5, 1.999, 2, 2, 9.5, 10, 11, -3]
    static let unevenEdges: [Double] = [-1, 0, 0.5, 2, 10]
    static let unevenCounts: [Int64] = [2, 1, 2, 3, 3, 2]

    /// A recorder over a one-value input with `edges`, fed `values` as one batch.
    private func recorded(_ values: [Float], edges: [Double]) throws -> HistogramSketch {
        let time = DriftTime(DriftFixtures.t0)
        let recorder = try DriftRecorder(
            name: "tiny", version: "1", model: DriftFixtures.model(inputs: 1, outputs: 2),
            configuration: DriftConfiguration(inputEdges: ["input": edges]), now: time.clock)
        let rows = values.count
        recorder.observe(
            feeds: [values], rows: rows, outputs: DriftFixtures.outputs(Array(repeating: 0, count: rows * 2), rows: rows))
        return try #require(recorder.checkpoint()).sketches.features[0].sketch
    }

    @Test("evenly spaced edges: HistogramSketch.add and the recorder both match numpy")
    func numpyUniform() throws {
        let sketch = DriftFixtures.reference(Self.uniform, edges: Self.uniformEdges)
        #expect(sketch.counts == Self.uniformCounts)
        #expect(sketch.sum == 131.48999977111816)
        #expect(sketch.min == -1 && sketch.max == 17 && sketch.missing == 0)
        #expect(try recorded(Self.uniform, edges: Self.uniformEdges) == sketch)
    }

    @Test("uneven edges (binary search): HistogramSketch.add and the recorder both match numpy")
    func numpyUneven() throws {
        let sketch = DriftFixtures.reference(Self.uneven, edges: Self.unevenEdges)
        #expect(sketch.counts == Self.unevenCounts)
        #expect(sketch.sum == 32.24899995326996)
        #expect(try recorded(Self.uneven, edges: Self.unevenEdges) == sketch)
    }

    @Test("the recorder's bin search equals HistogramSketch.add on values on and between edges, NaN and ±inf")
    func recorderMatchesAdd() throws {
        let values = DriftFixtures.values(3000, seed: 42)
        for edges in [Self.uniformEdges, Self.unevenEdges, (0...16).map { Double($0) / 16 }, [0.1, 0.2, 0.30000000000000004]] {
            let sketch = try recorded(values, edges: edges)
            #expect(sketch == DriftFixtures.reference(values, edges: edges))
            #expect(sketch.missing > 0)
        }
    }

    @Test("merging sketches is associative and commutative and equals one sketch over all the data")
    func mergeLaws() throws {
        let parts = [Array(Self.uniform[0..<6]), Array(Self.uniform[6..<13]), Array(Self.uniform[13...])]
        let (a, b, c) = (
            DriftFixtures.reference(parts[0], edges: Self.uniformEdges),
            DriftFixtures.reference(parts[1], edges: Self.uniformEdges),
            DriftFixtures.reference(parts[2], edges: Self.uniformEdges)
        )
        let whole = DriftFixtures.reference(Self.uniform, edges: Self.uniformEdges)
        #expect(try a.merged(with: b).merged(with: c) == whole)
        #expect(try a.merged(with: b.merged(with: c)) == whole)
        #expect(try c.merged(with: a).merged(with: b) == whole)
        #expect(try b.merged(with: a) == a.merged(with: b))
        #expect(try HistogramSketch(edges: Self.uniformEdges).merged(with: whole) == whole)
        #expect(throws: ProtocolError.self) { try a.merged(with: HistogramSketch(edges: Self.unevenEdges)) }
    }

    @Test("two windows' sketches merged equal one window over both batches, features and predictions")
    func windowsMerge() throws {
        let model = DriftFixtures.model(inputs: 2, outputs: 3)
        let first = DriftFixtures.values(40, seed: 1)
        let second = DriftFixtures.values(60, seed: 2)
        let scores = { (rows: Int, seed: UInt64) in DriftFixtures.values(rows * 3, seed: seed).map { $0.isFinite ? $0 : 0 } }
        let (s1, s2) = (scores(20, 5), scores(30, 6))
        let time = DriftTime(DriftFixtures.t0)
        let split = try DriftRecorder(
            name: "tiny", version: "1", model: model, configuration: DriftConfiguration(windowLength: .seconds(60)),
            now: time.clock)
        split.observe(feeds: [first], rows: 20, outputs: DriftFixtures.outputs(s1, rows: 20))
        time.set(DriftFixtures.t0 + 60_000)
        split.observe(feeds: [second], rows: 30, outputs: DriftFixtures.outputs(s2, rows: 30))
        split.close()
        let windows = split.takeClosed()
        try #require(windows.count == 2)
        let together = try DriftRecorder(name: "tiny", version: "1", model: model, now: time.clock)
        together.observe(feeds: [first + second], rows: 50, outputs: DriftFixtures.outputs(s1 + s2, rows: 50))
        let merged = try windows[0].sketches.merged(with: windows[1].sketches)
        let whole = try #require(together.checkpoint()).sketches
        #expect(merged.features.map(\.sketch.counts) == whole.features.map(\.sketch.counts))
        #expect(merged.predictions == whole.predictions)
        #expect(merged.rows == 50)
        for (m, w) in zip(merged.features, whole.features) {
            #expect(m.sketch.missing == w.sketch.missing && m.sketch.min == w.sketch.min && m.sketch.max == w.sketch.max)
            #expect(abs(m.sketch.sum - w.sketch.sum) <= 1e-9 * max(1, abs(w.sketch.sum)))
        }
    }
}
