import Core
import Foundation
import Testing

@testable import ONNXImport

/// Runs the imported QDQ and QOperator models through `Int8Program` on every available backend.
@Suite struct QuantizedFixtureTests {
    /// One output quantization step per case, as VERSIONS.txt lists it.
    static let steps: [String: Float] = [
        "mlp_qdq": 0.00392156886, "cnn_qdq": 0.0221362337, "mlp_qoperator": 0.0237766188, "cnn_qoperator": 0.0183597766,
    ]

    static let cases: [(String, KernelBackend)] = steps.keys.sorted().flatMap { name in
        KernelBackend.available.map { (name, $0) }
    }

    /// The scale of the DequantizeLinear producing the graph output, or feeding the node that does.
    static func outputStep(_ proto: Onnx_ModelProto) -> Float? {
        let g = proto.graph
        let producer = g.node.first { $0.output.contains(g.output[0].name) }
        let dq =
            producer?.opType == "DequantizeLinear"
            ? producer
            : g.node.first { n in
                n.opType == "DequantizeLinear" && producer?.input.contains(n.output[0]) == true
            }
        guard let dq, let scale = g.initializer.first(where: { $0.name == dq.input[1] }) else { return nil }
        return (try? ConstantTensor(scale, what: "scale"))?.scalar.map(Float.init)
    }

    /// Every output element within one output quantization step of ORT (a 0.1% margin absorbs float
    /// rounding of values that are themselves multiples of the step).
    @Test(arguments: cases)
    func withinOneStepOfORT(_ name: String, _ backend: KernelBackend) throws {
        let path = "ort/" + name
        let step = try #require(Self.steps[name])
        let graphStep = try #require(Self.outputStep(try Fixtures.modelProto(path)))
        #expect(abs(graphStep - step) <= 1e-6 * step)
        let model = try ONNXImporter.importModel(bytes: Fixtures.modelBytes(path), name: name)
        let spec = try #require(model.quantization)
        #expect(spec.mode == .static)
        let program = try Int8Program(model: model, backend: backend)
        let inputs = try Fixtures.tensors(path, prefix: "input")
        let expected = try Fixtures.tensors(path, prefix: "output")[0]
        let actual = try program.run(Check.feeds(model, inputs), workspace: program.makeWorkspace())[0]
        #expect(actual.shape == expected.shape)
        let r = Check.compare(actual, expected, rtol: 0, atol: step)
        print("int8 \(name) [\(backend)]: max |a-e| \(r.maxAbs) = \(r.maxAbs / step) steps; steps \(program.stepKinds)")
        #expect(r.maxAbs <= step * 1.001)
    }

    /// VERSIONS.txt: max |quantized − float| of ORT's int8 output against the float model.
    static let quantizationError: [String: Float] = [
        "mlp_qdq": 0.0162, "cnn_qdq": 0.04202, "mlp_qoperator": 0.8446, "cnn_qoperator": 0.02975,
    ]

    /// The imported graph run in float32 (dequantized weights, ReLUs restored where the quantizer
    /// folded them into zero points) stays as close to ORT's int8 output as the float model does,
    /// with a 2× margin for the dequantized weights.
    @Test(arguments: ["mlp_qdq", "cnn_qdq", "mlp_qoperator", "cnn_qoperator"])
    func floatGraphOfQuantizedModel(_ name: String) throws {
        let (model, results, expected) = try FloatFixtureTests.run("ort/" + name)
        let bound = 2 * Self.quantizationError[name]! + Self.steps[name]!
        let r = Check.compare(results[0], expected[0], rtol: 0, atol: bound)
        print("float graph of \(name): max |a-e| \(r.maxAbs) (bound \(bound)), nodes \(model.graph.nodes.map(\.op.kind))")
        #expect(r.maxAbs <= bound)
    }

    @Test func quantizedLayersRunInInt8() throws {
        for name in ["cnn_qdq", "cnn_qoperator"] {
            let model = try ONNXImporter.importModel(bytes: Fixtures.modelBytes("ort/" + name), name: name)
            let kinds = try Int8Program(model: model, backend: .reference).stepKinds
            #expect(kinds.filter { $0 == "conv:u8" }.count == 2, "\(name): \(kinds)")
            #expect(kinds.filter { $0 == "max_pool:u8" }.count == 2, "\(name): \(kinds)")
            #expect(kinds.contains("dense:u8"), "\(name): \(kinds)")
            #expect(model.metadata.extra["quantization_format"] == (name.hasSuffix("qdq") ? "QDQ" : "QOperator"))
        }
    }

    @Test func weightsKeepTheirCodesAndScales() throws {
        let proto = try Fixtures.modelProto("ort/mlp_qdq")
        let codes = try ConstantTensor(
            try #require(proto.graph.initializer.first { $0.name == "fc1.weight_quantized" }), what: "w")
        let model = try ONNXImporter.importModel(bytes: Fixtures.modelBytes("ort/mlp_qdq"), name: "mlp")
        let weight = try #require(model.quantization?.weights["fc1.weight"])
        #expect(weight.shape == [128, 64])
        #expect(weight.axis == 0 && weight.scales.count == 128)
        #expect(weight.values.map(Double.init) == codes.values)
        #expect(model.quantization?.biases["fc1.bias"]?.values.count == 128)
    }
}
