import Core
import Foundation
import Testing

@testable import ONNXImport

/// Runs the imported float models with `FloatRunner` and compares with the reference outputs.
@Suite struct FloatFixtureTests {
    /// Imports fixture `path`, runs it on its inputs and returns (model, outputs, expected outputs).
    static func run(_ path: String, outputs: [String]? = nil) throws -> (Model, [Tensor], [Tensor]) {
        let model = try ONNXImporter.importModel(bytes: Fixtures.modelBytes(path), name: path, outputs: outputs)
        let inputs = try Fixtures.tensors(path, prefix: "input")
        let results = try FloatRunner(graph: model.graph).run(Check.feeds(model, inputs))
        return (model, results, try Fixtures.tensors(path, prefix: "output"))
    }

    /// ONNX's backend runner allows rtol 1e-3, atol 1e-7; we also hold every case to rtol 1e-4
    /// (atol 1e-6 for values near zero), the tolerance the ORT cases use.
    ///
    /// Starling computes in float32. A float64 case whose data lie beyond float32's range (ONNX's
    /// add_broadcast case stores uninitialized memory, up to 6e199) is checked on the elements that
    /// float32 can hold: out-of-range inputs are fed as 0 and out-of-range expected outputs skipped.
    @Test(arguments: Fixtures.cases(in: "onnx-conformance"))
    func conformanceCase(_ name: String) throws {
        let path = "onnx-conformance/" + name
        let model = try ONNXImporter.importModel(bytes: Fixtures.modelBytes(path), name: name)
        let inputs = try Fixtures.tensors(path, prefix: "input").map(Check.finite)
        let results = try FloatRunner(graph: model.graph).run(Check.feeds(model, inputs))
        let expected = try Fixtures.tensors(path, prefix: "output")
        let isDouble = try Fixtures.modelProto(path).graph.input.contains { $0.elementType == ElementType.double.rawValue }
        #expect(results.count == expected.count)
        for (actual, raw) in zip(results, expected) {
            let want = Check.expected(raw, model: model, actual: actual)
            try #require(actual.count == want.count, "\(name): \(actual.shape) vs \(raw.shape)")
            let skipped = want.scalars.filter { !$0.isFinite }.count
            #expect(skipped == 0 || isDouble, "\(name): non-finite expected values in a float32 case")
            let onnx = Check.compare(actual, want, rtol: 1e-3, atol: 1e-7)
            let tight = Check.compare(actual, want, rtol: 1e-4, atol: 1e-6)
            print(
                "conformance \(name): max |a-e| \(onnx.maxAbs), ratio(1e-3,1e-7) \(onnx.worst), ratio(1e-4,1e-6) \(tight.worst)"
                    + (skipped > 0 ? ", \(skipped) of \(want.count) expected values beyond float32 skipped" : ""))
            #expect(onnx.worst <= 1, "\(name) exceeds ONNX's rtol 1e-3 / atol 1e-7")
            #expect(tight.worst <= 1, "\(name) exceeds rtol 1e-4 / atol 1e-6")
        }
    }

    /// The parameterized fixture tests run on every case: a missing fixture folder fails here instead
    /// of leaving them with nothing to check.
    @Test func everyFixtureFolderIsFound() {
        for (group, count) in Fixtures.expectedCaseCounts.sorted(by: { $0.key < $1.key }) {
            let found = Fixtures.cases(in: group)
            #expect(found.count == count, "\(group) under \(Fixtures.root.path): \(found)")
        }
    }

    /// A NaN or infinite output fails a comparison even where the expected value is skipped.
    @Test func compareFailsOnNonFiniteActualValues() {
        let expected = Tensor(shape: [3], scalars: [1, 2, .infinity])
        for bad in [Float.nan, .infinity, -.infinity] {
            for i in 0..<3 {
                var scalars: [Float] = [1, 2, 3]
                scalars[i] = bad
                let r = Check.compare(Tensor(shape: [3], scalars: scalars), expected, rtol: 1e-3, atol: 1e-7)
                #expect(r.worst > 1 && r.maxAbs == .infinity, "\(scalars)")
            }
        }
        #expect(Check.compare(Tensor(shape: [3], scalars: [1, 2, 3]), expected, rtol: 1e-3, atol: 1e-7).worst == 0)
    }

    /// ORT float cases: |a − e| ≤ 1e-6 + 1e-4·|e| (fixtures README: rtol 1e-4, atol 1e-6 near zero).
    @Test(arguments: ["mlp_gemm", "mlp_matmul", "cnn_nchw", "cnn_misc"])
    func ortFloatCase(_ name: String) throws {
        let (model, results, expected) = try Self.run("ort/" + name)
        try #require(results.count == 1 && expected.count == 1)
        #expect(results[0].shape == expected[0].shape)
        let r = Check.compare(results[0], expected[0], rtol: 1e-4, atol: 1e-6)
        print("ort \(name): max |a-e| \(r.maxAbs), ratio(1e-4,1e-6) \(r.worst), nodes \(model.graph.nodes.map(\.op.kind))")
        #expect(r.worst <= 1)
        #expect(model.quantization == nil)
    }

    @Test func nchwInputsBecomeNHWC() throws {
        let model = try ONNXImporter.importModel(bytes: Fixtures.modelBytes("ort/cnn_nchw"), name: "cnn")
        #expect(model.graph.inputs == [ValueSpec(name: "input", shape: [-1, 28, 28, 1])])
        #expect(model.metadata.extra["input_layout"] == "NHWC (converted from NCHW)")
        #expect(model.metadata.extra["output_layout"] == nil)
        #expect(model.graph.outputs == ["logits"])
    }

    @Test func matMulAddFoldsIntoDenseBias() throws {
        let model = try ONNXImporter.importModel(bytes: Fixtures.modelBytes("ort/mlp_matmul"), name: "mlp")
        #expect(model.graph.nodes.filter { $0.op == .dense }.count == 4)
        #expect(model.graph.nodes.allSatisfy { $0.op != .add })
        #expect(model.graph.nodes.filter { $0.op == .dense }.allSatisfy { $0.inputs.count == 3 })
    }

    @Test func fixedBatchImportsAsAnyBatch() throws {
        let model = try ONNXImporter.importModel(bytes: Fixtures.modelBytes("onnx-conformance/test_Linear"), name: "linear")
        #expect(model.graph.inputs.map(\.shape) == [[-1, 10]])
        let x = Tensor(shape: [7, 10], repeating: 0.5)
        #expect(try FloatRunner(graph: model.graph).run(["0": x])[0].shape == [7, 8])
    }

    /// sklearn_mlp's label output needs ai.onnx.ml; its probabilities import on their own.
    @Test func sklearnProbabilities() throws {
        let (model, results, expected) = try Self.run("ort/sklearn_mlp", outputs: ["probabilities"])
        #expect(model.graph.outputs == ["probabilities"])
        let r = Check.compare(results[0], expected[1], rtol: 1e-4, atol: 1e-6)
        print("ort sklearn_mlp probabilities: max |a-e| \(r.maxAbs), ratio(1e-4,1e-6) \(r.worst)")
        #expect(r.worst <= 1)
        #expect(results[0].argmaxRows().map(Float.init) == expected[0].scalars)
    }
}
