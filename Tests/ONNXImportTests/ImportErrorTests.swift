import Core
import Foundation
import Testing

@testable import ONNXImport

/// Models the importer must refuse, each with an error a person can act on.
@Suite struct ImportErrorTests {
    /// The error `body` throws, failing the test when it throws none.
    static func error(_ body: () throws -> Model) -> ModelError? {
        do {
            _ = try body()
            Issue.record("the import succeeded")
        } catch let error as ModelError {
            print("import error (\(error.code)): \(error.message)")
            return error
        } catch {
            Issue.record("unexpected error \(error)")
        }
        return nil
    }

    @Test func lstmIsNamedWithItsNode() throws {
        let proto = try Fixtures.modelProto("ort/unsupported_op")
        let lstm = try #require(proto.graph.node.first { $0.opType == "LSTM" })
        let bytes = try Fixtures.modelBytes("ort/unsupported_op")
        let e = try #require(Self.error { try ONNXImporter.importModel(bytes: bytes, name: "lstm") })
        #expect(e.code == .unsupportedOp)
        #expect(e.message.contains("unsupported ONNX op 'LSTM' (node '\(lstm.name)')"), "\(e.message)")
    }

    @Test func classicMLDomainIsRefused() throws {
        let bytes = try Fixtures.modelBytes("ort/sklearn_mlp")
        let e = try #require(Self.error { try ONNXImporter.importModel(bytes: bytes, name: "sk") })
        #expect(e.code == .unsupportedOp)
        #expect(e.message.contains("'ai.onnx.ml.ArrayFeatureExtractor' (node 'ArrayFeatureExtractor')"), "\(e.message)")
        #expect(e.message.contains("[\"probabilities\"]"), "\(e.message)")
        let label = try #require(Self.error { try ONNXImporter.importModel(bytes: bytes, name: "sk", outputs: ["label"]) })
        #expect(label.code == .unsupportedOp)
        let missing = try #require(Self.error { try ONNXImporter.importModel(bytes: bytes, name: "sk", outputs: ["scores"]) })
        #expect(missing.code == .invalidArgument && missing.message.contains("probabilities"))
    }

    @Test(arguments: [0.1, 0.25, 0.5, 0.75, 0.9, 0.999])
    func truncatedFileIsCorrupt(_ fraction: Double) throws {
        let bytes = try Fixtures.modelBytes("ort/cnn_nchw")
        let cut = Array(bytes.prefix(Int(Double(bytes.count) * fraction)))
        let e = try #require(Self.error { try ONNXImporter.importModel(bytes: cut, name: "cut") })
        #expect(e.code == .corruptFile, "\(e)")
    }

    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func randomBytesAreCorrupt(_ seed: UInt64) {
        var rng = RandomSource(seed: seed)
        let bytes = (0..<4096).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let e = Self.error { try ONNXImporter.importModel(bytes: bytes, name: "noise") }
        #expect(e?.code == .corruptFile, "\(String(describing: e))")
    }

    @Test func emptyAndTextFilesAreCorrupt() {
        #expect(Self.error { try ONNXImporter.importModel(bytes: [], name: "x") }?.code == .corruptFile)
        let text = Array("name,label\n1,2\n".utf8)
        #expect(Self.error { try ONNXImporter.importModel(bytes: text, name: "x") }?.code == .corruptFile)
    }

    @Test(arguments: [(22, ModelError.Code.newerFormat), (5, .unsupportedOp), (1, .unsupportedOp)] as [(Int64, ModelError.Code)])
    func opsetOutOfRange(_ version: Int64, _ code: ModelError.Code) throws {
        var proto = try Fixtures.modelProto("ort/mlp_gemm")
        proto.opsetImport[0].version = version
        let bytes: [UInt8] = try proto.serializedBytes()
        let e = try #require(Self.error { try ONNXImporter.importModel(bytes: bytes, name: "x") })
        #expect(e.code == code)
        #expect(e.message.contains("opset \(version)") && e.message.contains("6–21"), "\(e.message)")
    }

    @Test func nonzeroWeightZeroPointIsRefused() throws {
        var proto = try Fixtures.modelProto("ort/mlp_qdq")
        let i = try #require(proto.graph.initializer.firstIndex { $0.name == "fc2.weight_zero_point" })
        var zp = proto.graph.initializer[i]
        let count = Int(zp.dims.reduce(1, *))
        zp.rawData = Data([UInt8](repeating: 3, count: count))
        zp.int32Data = []
        proto.graph.initializer[i] = zp
        let bytes: [UInt8] = try proto.serializedBytes()
        let e = try #require(Self.error { try ONNXImporter.importModel(bytes: bytes, name: "x") })
        #expect(e.code == .unsupportedOp)
        #expect(e.message.contains("fc2.weight") && e.message.contains("zero point"), "\(e.message)")
    }

    @Test func missingFileIsAnIOError() {
        let e = Self.error { try ONNXImporter.importModel(path: "/nonexistent/model.onnx") }
        #expect(e?.code == .io)
    }

    @Test func pathVariantNamesTheModelAfterTheFile() throws {
        let path = Fixtures.folder("ort/mlp_gemm").appendingPathComponent("model.onnx").path
        let model = try ONNXImporter.importModel(path: path)
        #expect(model.metadata.name == "model")
        #expect(model.metadata.source == "onnx:model.onnx")
        #expect(model.metadata.extra["onnx_opset"] == "13")
    }

    @Test func symbolicFeatureDimensionIsRefused() throws {
        var b = ONNXBuilder()
        b.input("x", [nil, nil])
        b.node("Relu", ["x"], ["y"])
        b.output("y")
        let e = try #require(Self.error { try b.importModel() })
        #expect(e.code == .unsupportedOp && e.message.contains("symbolic size at axis 1"), "\(e.message)")
    }

    @Test func customDomainIsRefused() throws {
        var b = ONNXBuilder()
        b.input("x", [nil, 4])
        b.node("QGemm", ["x"], ["y"], name: "fused", domain: "com.microsoft")
        b.output("y")
        let e = try #require(Self.error { try b.importModel() })
        #expect(e.message.contains("unsupported ONNX op 'com.microsoft.QGemm' (node 'fused')"), "\(e.message)")
    }

    @Test func reshapeThatNeedsATransposeIsRefused() throws {
        var b = ONNXBuilder()
        b.input("x", [nil, 2, 4, 4])
        b.initializer("w", [3, 2, 1, 1], testValues(6, seed: 1))
        b.node("Conv", ["x", "w"], ["c"], lists: ["kernel_shape": [1, 1]])
        b.int64Initializer("shape", [0, 3, -1])
        b.node("Reshape", ["c", "shape"], ["y"], name: "to_sequence")
        b.output("y")
        let e = try #require(Self.error { try b.importModel() })
        #expect(e.code == .unsupportedOp)
        #expect(e.message.contains("to_sequence") && e.message.contains("NHWC"), "\(e.message)")
    }

    @Test func softmaxOverAnotherAxisIsRefusedFromOpset13() throws {
        var b = ONNXBuilder()
        b.input("x", [nil, 3, 5])
        b.node("Softmax", ["x"], ["y"], ints: ["axis": 1])
        b.output("y")
        let e = try #require(Self.error { try b.importModel() })
        #expect(e.code == .unsupportedOp && e.message.contains("last axis"), "\(e.message)")
    }

    @Test func graphOutputOfFlattenedImageIsRefused() throws {
        var b = ONNXBuilder()
        b.input("x", [nil, 2, 3, 3])
        b.initializer("w", [2, 2, 1, 1], testValues(4, seed: 2))
        b.node("Conv", ["x", "w"], ["c"])
        b.node("Flatten", ["c"], ["y"])
        b.output("y")
        let e = try #require(Self.error { try b.importModel() })
        #expect(e.code == .unsupportedOp && e.message.contains("'y'"), "\(e.message)")
    }
}

/// Damaged files either import or fail with a `ModelError`; they never crash the process.
@Suite struct DamagedFileTests {
    @Test(arguments: ["ort/cnn_misc", "ort/mlp_qdq", "ort/mlp_qoperator", "onnx-conformance/test_operator_mm"])
    func flippedBytesNeverCrash(_ path: String) throws {
        let original = try Fixtures.modelBytes(path)
        var rng = RandomSource(seed: 99)
        var outcomes: [String: Int] = [:]
        for _ in 0..<Self.rounds {
            var bytes = original
            for _ in 0..<(1 + rng.below(4)) {
                bytes[rng.below(bytes.count)] ^= UInt8(1 << rng.below(8))
            }
            do {
                let model = try ONNXImporter.importModel(bytes: bytes, name: "damaged")
                try model.validate()
                outcomes["imported", default: 0] += 1
            } catch {
                outcomes[error.code.rawValue, default: 0] += 1
            }
        }
        print("damaged \(path): \(outcomes.sorted { $0.key < $1.key })")
        #expect(outcomes.values.reduce(0, +) == Self.rounds)
    }

    static let rounds = Int(ProcessInfo.processInfo.environment["ONNX_FUZZ_ROUNDS"] ?? "") ?? 60
}
