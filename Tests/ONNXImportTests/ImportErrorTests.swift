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

/// Damaged files either import or fail with a `ModelError`; they never crash the process. A
/// damaged model that does import must also validate, run in float32 on zero inputs and, when
/// quantized, compile and run as an int8 program on every backend: each stage ends in a result or
/// a `ModelError`.
@Suite struct DamagedFileTests {
    /// Values larger than this (elements) are not run: a damaged size can make a valid model whose
    /// activations are gigabytes, which says nothing about the importer.
    static let maxRunElements = 1 << 22

    /// Imports `bytes` and exercises what imports. Returns "ran", "too large to run", or the code of
    /// the `ModelError` that ended it (prefixed by the stage after the import).
    static func exercise(_ bytes: [UInt8]) -> String {
        var stage = ""
        do throws(ModelError) {
            let model = try ONNXImporter.importModel(bytes: bytes, name: "damaged")
            stage = "validate: "
            try model.validate()
            stage = "float: "
            let runner = try FloatRunner(graph: model.graph)
            let shapes = try model.graph.inferShapes(batch: 1)
            guard shapes.values.allSatisfy({ (ConstantTensor.elementCount($0) ?? .max) <= maxRunElements }) else {
                return "too large to run"
            }
            let feeds = Dictionary(
                uniqueKeysWithValues: model.graph.inputs.map { ($0.name, Tensor(shape: $0.shape.map { $0 < 0 ? 1 : $0 })) })
            let outputs = try runner.run(feeds)
            #expect(outputs.count == model.graph.outputs.count)
            guard model.quantization != nil else { return "ran" }
            for backend in KernelBackend.available {
                stage = "int8 \(backend): "
                let program = try Int8Program(model: model, backend: backend)
                let feeds = Dictionary(uniqueKeysWithValues: program.inputShapes.map { ($0.name, Tensor(shape: [1] + $0.shape)) })
                let results = try program.run(feeds, workspace: program.makeWorkspace())
                #expect(results.count == model.graph.outputs.count)
            }
            return "ran"
        } catch {
            return stage + error.code.rawValue
        }
    }

    @Test(arguments: ["ort/cnn_misc", "ort/cnn_qdq", "ort/mlp_qdq", "ort/mlp_qoperator", "onnx-conformance/test_operator_mm"])
    func flippedBytesNeverCrash(_ path: String) throws {
        let original = try Fixtures.modelBytes(path)
        #expect(Self.exercise(original) == "ran", "the undamaged \(path) must run, or nothing below is exercised")
        // cnn_qdq takes about a second a round (int8 convolutions on every backend), so it gets a sixth.
        let rounds = path == "ort/cnn_qdq" ? Swift.max(1, Self.rounds / 6) : Self.rounds
        var rng = RandomSource(seed: 99)
        var outcomes: [String: Int] = [:]
        for _ in 0..<rounds {
            var bytes = original
            for _ in 0..<(1 + rng.below(4)) {
                bytes[rng.below(bytes.count)] ^= UInt8(1 << rng.below(8))
            }
            outcomes[Self.exercise(bytes), default: 0] += 1
        }
        print("damaged \(path): \(outcomes.sorted { $0.key < $1.key })")
        // Surviving the loop is the test; this only checks the run stages were reached at all.
        #expect(rounds < 10 || outcomes["ran", default: 0] > 0, "no damaged \(path) got past the import")
    }

    static let rounds = Int(ProcessInfo.processInfo.environment["ONNX_FUZZ_ROUNDS"] ?? "") ?? 60

    /// Files that decode as protobuf and are shaped like ONNX but carry numbers no model may have.
    /// Each must be refused at import with `code`, naming `mentions`.
    @Test(arguments: HeaderDamage.allCases)
    func damagedHeaderIsRefused(_ damage: HeaderDamage) throws {
        let bytes = try damage.bytes()
        _ = try Onnx_ModelProto(serializedBytes: bytes)
        let outcome = Self.exercise(bytes)
        let e = try #require(ImportErrorTests.error { try ONNXImporter.importModel(bytes: bytes, name: "damaged") })
        #expect(outcome == e.code.rawValue)
        #expect(e.code == damage.code, "\(damage): \(e.code) \(e.message)")
        #expect(e.message.contains(damage.mentions), "\(damage): \(e.message)")
    }
}

/// Edits of fixture models (and small built models) that keep the protobuf valid but put bad
/// numbers in it.
enum HeaderDamage: String, CaseIterable, CustomStringConvertible, Sendable {
    case inputDimHuge, inputDimsOverflow, initializerDimHuge, initializerZeroAndHugeDims, reshapeTargetHuge
    case activationScaleZero, activationScaleNaN, activationScaleNegative, outputScaleNaNQOperator, weightScaleZero
    case weightScaleNaNQOperator, zeroPoint300, zeroPoint300ViaCast, int8WeightOverflowViaAdd, int32BiasOverflowViaMul
    case strideZero, strideHuge, padsNegative, dilationHuge, poolKernelHuge, padsExplodeOutput, convGroupHuge
    case castTo99999, castToHugeType

    var description: String { rawValue }

    /// The error code the import must fail with.
    var code: ModelError.Code {
        switch self {
        case .inputDimHuge, .inputDimsOverflow, .padsExplodeOutput, .castTo99999, .castToHugeType: .unsupportedOp
        case .initializerDimHuge, .initializerZeroAndHugeDims, .zeroPoint300: .corruptFile
        case .convGroupHuge: .shapeMismatch
        default: .invalidGraph
        }
    }

    /// Text the error message must contain.
    var mentions: String {
        switch self {
        case .inputDimHuge, .inputDimsOverflow: "too large"
        case .initializerDimHuge, .initializerZeroAndHugeDims: "invalid dimensions"
        case .reshapeTargetHuge: "implausibly large target shape"
        case .activationScaleZero, .activationScaleNaN, .activationScaleNegative, .outputScaleNaNQOperator:
            "activation scale"
        case .weightScaleZero, .weightScaleNaNQOperator: "weight scale"
        case .zeroPoint300, .zeroPoint300ViaCast: "300.0, which uint8 cannot hold"
        case .int8WeightOverflowViaAdd: "200.0, which int8 cannot hold"
        case .int32BiasOverflowViaMul: "which int32 cannot hold"
        case .strideZero, .strideHuge, .padsNegative, .dilationHuge, .poolKernelHuge: "malformed kernel"
        case .padsExplodeOutput: "too many elements per sample"
        case .convGroupHuge: "with 1099511627776 group(s)"
        case .castTo99999: "ONNX type 99999"
        case .castToHugeType: "ONNX type 1099511627776"
        }
    }

    func bytes() throws -> [UInt8] {
        switch self {
        case .inputDimHuge:
            return try Self.edit("ort/cnn_nchw") { $0.graph.input[0].type.tensorType.shape.dim[3].dimValue = 1 << 40 }
        case .inputDimsOverflow:
            return try Self.edit("ort/cnn_nchw") { m in
                for axis in 1...3 { m.graph.input[0].type.tensorType.shape.dim[axis].dimValue = 1 << 30 }
            }
        case .initializerDimHuge:
            return try Self.edit("ort/mlp_gemm") { $0.graph.initializer[0].dims[0] = 1 << 40 }
        case .initializerZeroAndHugeDims:
            return try Self.edit("ort/mlp_gemm") { m in
                m.graph.initializer[0].dims = [0, 1 << 40, 1 << 40]
                m.graph.initializer[0].clearRawData()
                m.graph.initializer[0].floatData = []
            }
        case .reshapeTargetHuge:
            var b = ONNXBuilder()
            b.input("x", [nil, 4])
            b.int64Initializer("shape", [0, 1 << 40, 1 << 40])
            b.node("Reshape", ["x", "shape"], ["y"])
            b.output("y")
            return try b.bytes()
        case .activationScaleZero, .activationScaleNaN, .activationScaleNegative:
            let value: Float = self == .activationScaleZero ? 0 : (self == .activationScaleNaN ? .nan : -0.5)
            return try Self.edit("ort/mlp_qdq") { m in
                let q = m.graph.node.first { $0.opType == "QuantizeLinear" }!
                Self.setFloats(&m, q.input[1]) { $0.map { _ in value } }
            }
        case .outputScaleNaNQOperator:
            return try Self.edit("ort/mlp_qoperator") { m in
                let q = m.graph.node.first { $0.opType == "QLinearMatMul" }!
                Self.setFloats(&m, q.input[6]) { $0.map { _ in .nan } }
            }
        case .weightScaleZero:
            return try Self.edit("ort/mlp_qdq") { m in
                // The first DequantizeLinear of an int8 initializer: a weight (biases are int32).
                let int8 = Set(m.graph.initializer.filter { $0.dataType == ElementType.int8.rawValue }.map(\.name))
                let dq = m.graph.node.first { $0.opType == "DequantizeLinear" && int8.contains($0.input[0]) }!
                Self.setFloats(&m, dq.input[1]) { [0] + $0.dropFirst() }
            }
        case .weightScaleNaNQOperator:
            return try Self.edit("ort/mlp_qoperator") { m in
                let q = m.graph.node.first { $0.opType == "QLinearMatMul" }!
                Self.setFloats(&m, q.input[4]) { $0.map { _ in .nan } }
            }
        case .zeroPoint300:
            return try Self.edit("ort/mlp_qdq") { m in
                let q = m.graph.node.first { $0.opType == "QuantizeLinear" }!
                let i = m.graph.initializer.firstIndex { $0.name == q.input[2] }!
                m.graph.initializer[i].clearRawData()
                m.graph.initializer[i].int32Data = [300]
            }
        case .zeroPoint300ViaCast:
            var b = ONNXBuilder()
            b.input("x", [nil, 4])
            b.initializer("scale", [], [0.1])
            b.initializer("zero", [], [300])
            b.node("Cast", ["zero"], ["zero_u8"], ints: ["to": Int(ElementType.uint8.rawValue)])
            b.node("QuantizeLinear", ["x", "scale", "zero_u8"], ["q"])
            b.node("DequantizeLinear", ["q", "scale", "zero_u8"], ["y"])
            b.output("y")
            return try b.bytes()
        case .int8WeightOverflowViaAdd:
            var b = ONNXBuilder()
            b.input("x", [nil, 4])
            b.integerInitializer("codes", .int8, [4, 3], [Int32](repeating: 100, count: 12))
            b.node("Add", ["codes", "codes"], ["sum"])
            b.initializer("scale", [], [0.01])
            b.node("DequantizeLinear", ["sum", "scale"], ["w"])
            b.node("MatMul", ["x", "w"], ["y"])
            b.output("y")
            return try b.bytes()
        case .int32BiasOverflowViaMul:
            var b = ONNXBuilder()
            b.input("x", [nil, 4])
            b.initializer("w", [4, 3], testValues(12, seed: 3))
            b.integerInitializer("codes", .int32, [3], [2_000_000_000, 1, 2])
            b.integerInitializer("two", .int32, [], [2])
            b.node("Mul", ["codes", "two"], ["doubled"])
            b.initializer("scale", [], [0.01])
            b.node("DequantizeLinear", ["doubled", "scale"], ["bias"])
            b.node("Gemm", ["x", "w", "bias"], ["y"])
            b.output("y")
            return try b.bytes()
        case .strideZero, .strideHuge, .padsNegative, .dilationHuge:
            let (name, values): (String, [Int64]) =
                switch self {
                case .strideZero: ("strides", [0, 1])
                case .strideHuge: ("strides", [1 << 40, 1])
                case .dilationHuge: ("dilations", [1, 1 << 30])
                default: ("pads", [-1, 0, 0, 0])
                }
            return try Self.edit("ort/cnn_nchw") { m in
                let i = m.graph.node.firstIndex { $0.opType == "Conv" }!
                Self.setInts(&m.graph.node[i], name, values)
            }
        case .padsExplodeOutput:
            return try Self.edit("ort/cnn_nchw") { m in
                let i = m.graph.node.firstIndex { $0.opType == "Conv" }!
                Self.setInts(&m.graph.node[i], "pads", [Int64](repeating: (1 << 20) - 1, count: 4))
            }
        case .convGroupHuge:
            var b = ONNXBuilder()
            b.input("x", [nil, 0, 4, 4])
            b.initializer("w", [2, 0, 1, 1], [])
            b.node("Conv", ["x", "w"], ["y"], ints: ["group": 1 << 40])
            b.output("y")
            return try b.bytes()
        case .poolKernelHuge:
            return try Self.edit("ort/cnn_nchw") { m in
                let i = m.graph.node.firstIndex { $0.opType == "MaxPool" }!
                Self.setInts(&m.graph.node[i], "kernel_shape", [1 << 40, 2])
            }
        case .castTo99999, .castToHugeType:
            var b = ONNXBuilder()
            b.input("x", [nil, 2])
            b.initializer("c", [2], [1, 2])
            b.node("Cast", ["c"], ["cast"], ints: ["to": self == .castTo99999 ? 99999 : 1 << 40])
            b.node("Add", ["x", "cast"], ["y"])
            b.output("y")
            return try b.bytes()
        }
    }

    /// Fixture `path` after `change`, serialized.
    private static func edit(_ path: String, _ change: (inout Onnx_ModelProto) -> Void) throws -> [UInt8] {
        var proto = try Fixtures.modelProto(path)
        change(&proto)
        return try proto.serializedBytes()
    }

    /// Replaces the values of float initializer `name` with `change(old values)`.
    private static func setFloats(_ m: inout Onnx_ModelProto, _ name: String, _ change: ([Float]) -> [Float]) {
        let i = m.graph.initializer.firstIndex { $0.name == name }!
        let old = (try? ConstantTensor(m.graph.initializer[i], what: name))?.values.map { Float($0) } ?? []
        m.graph.initializer[i].clearRawData()
        m.graph.initializer[i].floatData = change(old)
    }

    /// Sets integer-list attribute `name` of `node`, adding it when absent.
    private static func setInts(_ node: inout Onnx_NodeProto, _ name: String, _ values: [Int64]) {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .ints
        a.ints = values
        node.attribute.removeAll { $0.name == name }
        node.attribute.append(a)
    }
}
