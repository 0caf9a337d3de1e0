import Core
import Testing

@testable import Agent

@Suite("Inference registry")
struct InferenceRegistryTests {
    static let pixels = OIPFixtures.pixels(rows: 3)
    static let request = [InferenceTensor(name: "input", datatype: .fp32, shape: [3, 64], values: .numbers(pixels))]

    @Test("versions load by name; the active one answers unversioned requests; activation swaps it")
    func loadAndActivate() throws {
        let registry = ModelRegistry()
        #expect(!registry.isReady)
        try registry.load(OIPFixtures.digitsModel, name: "digits", version: "1")
        try registry.load(OIPFixtures.digitsModelB, name: "digits", version: "2", activate: false)
        try registry.load(OIPFixtures.digitsModel, name: "other", version: "7")
        #expect(registry.isReady)
        #expect(registry.names == ["digits", "other"])
        #expect(registry.versions(of: "digits")?.loaded == ["1", "2"])
        #expect(try registry.model("digits").version == "1")
        #expect(try registry.model("digits", version: "2").version == "2")
        try registry.activate(name: "digits", version: "2")
        #expect(try registry.model("digits").version == "2")
        #expect(registry.versions(of: "digits")?.active == "2")
        try registry.unload(name: "digits", version: "1")
        #expect(registry.versions(of: "digits")?.loaded == ["2"])
    }

    @Test("unknown names and versions, duplicates, bad identifiers and unloading the active version are refused")
    func refusals() throws {
        let registry = ModelRegistry()
        try registry.load(OIPFixtures.digitsModel, name: "digits", version: "1")
        #expect(throws: InferenceError.self) { try registry.model("nope") }
        do {
            _ = try registry.model("digits", version: "9")
            Issue.record("unknown version")
        } catch {
            #expect(error.code == .notFound)
            #expect(error.message.contains("loaded: 1"))
        }
        do {
            try registry.load(OIPFixtures.digitsModel, name: "digits", version: "1")
            Issue.record("duplicate version")
        } catch {
            #expect(error.code == .conflict)
        }
        for bad in ["", "a/b", "x y", String(repeating: "v", count: 129)] {
            #expect(throws: InferenceError.self) { try registry.load(OIPFixtures.digitsModel, name: bad, version: "1") }
        }
        do {
            try registry.unload(name: "digits", version: "1")
            Issue.record("unloading the active version")
        } catch {
            #expect(error.code == .conflict)
        }
        var float = OIPFixtures.digitsModel
        float.quantization = nil
        #expect(throws: InferenceError.self) { try registry.load(float, name: "float", version: "1") }
    }

    @Test("a request keeps the version it resolved even when another becomes active before it runs")
    func requestKeepsItsVersion() async throws {
        let registry = ModelRegistry()
        try registry.load(OIPFixtures.digitsModel, name: "digits", version: "1")
        let held = try registry.model("digits")
        try registry.load(OIPFixtures.digitsModelB, name: "digits", version: "2")
        let result = try await held.infer(Self.request)
        #expect(result.version == "1")
        let expected = OIPFixtures.corePrediction(OIPFixtures.digitsModel, pixels: Self.pixels)
        #expect(result.outputs[0].values == .numbers(expected.scalars))
        let fresh = try await registry.model("digits").infer(Self.request)
        #expect(fresh.version == "2")
        #expect(
            fresh.outputs[0].values == .numbers(OIPFixtures.corePrediction(OIPFixtures.digitsModelB, pixels: Self.pixels).scalars)
        )
    }

    @Test("concurrent requests batched together get exactly what Core predicts for each alone")
    func batchedResultsMatchCore() async throws {
        let metrics = ServingMetrics()
        let registry = ModelRegistry(batching: BatchingConfiguration(maxBatch: 24, maxWait: .seconds(600)), metrics: metrics)
        let served = try registry.load(OIPFixtures.digitsModel, name: "digits", version: "1")
        let count = 24
        let results = try await withThrowingTaskGroup(of: (Int, ServedModel.Result).self) { group in
            for i in 0..<count {
                group.addTask {
                    let pixels = OIPFixtures.pixels(rows: 1, from: i)
                    let tensor = InferenceTensor(name: "input", datatype: .fp32, shape: [1, 64], values: .numbers(pixels))
                    return (i, try await served.infer([tensor]))
                }
            }
            var all: [Int: ServedModel.Result] = [:]
            for try await (i, result) in group { all[i] = result }
            return all
        }
        let expected = OIPFixtures.corePrediction(OIPFixtures.digitsModel, pixels: OIPFixtures.pixels(rows: count))
        for i in 0..<count {
            let row = Array(expected.scalars[(i * 10)..<((i + 1) * 10)])
            #expect(results[i]?.outputs[0].values == .numbers(row))
            let best = row.indices.max { row[$0] < row[$1] }!
            #expect(results[i]?.outputs[1].values == .bytes([Array(OIPFixtures.digitsModel.metadata.classes![best].utf8)]))
        }
        let text = String(decoding: metrics.exposition(), as: UTF8.self)
        #expect(text.contains(#"starling_agent_inference_rows_total{model="digits",version="1"} 24"#))
        // The wait only ends when maxBatch rows have gathered: all 24 requests ran as one batch.
        #expect(text.contains(#"starling_agent_inference_batch_rows_count{model="digits",version="1"} 1"#), "\(text)")
        #expect(text.contains(#"starling_agent_inference_batch_rows_sum{model="digits",version="1"} 24"#))
    }
}
