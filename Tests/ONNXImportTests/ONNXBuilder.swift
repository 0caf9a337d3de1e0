import Core
import Foundation

@testable import ONNXImport

/// Builds small ONNX models in memory for tests of single ops and error paths.
struct ONNXBuilder {
    var graph = Onnx_GraphProto()
    var opset: Int64 = 13

    init(opset: Int64 = 13) {
        self.opset = opset
        graph.name = "test"
    }

    /// Declares a float input; nil dimensions are symbolic.
    mutating func input(_ name: String, _ dims: [Int?]) {
        graph.input.append(Self.valueInfo(name, dims))
    }

    /// Declares an output.
    mutating func output(_ name: String) {
        graph.output.append(Self.valueInfo(name, []))
    }

    /// Adds a float initializer.
    mutating func initializer(_ name: String, _ shape: [Int], _ values: [Float]) {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = shape.map(Int64.init)
        t.dataType = ElementType.float.rawValue
        t.floatData = values
        graph.initializer.append(t)
    }

    /// Adds an int64 initializer (shapes, axes).
    mutating func int64Initializer(_ name: String, _ values: [Int]) {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = [Int64(values.count)]
        t.dataType = ElementType.int64.rawValue
        t.int64Data = values.map(Int64.init)
        graph.initializer.append(t)
    }

    /// Adds an initializer of integer element type `type` (int8, uint8, int32, ...), stored in
    /// `int32_data` as ONNX does for the narrow types.
    mutating func integerInitializer(_ name: String, _ type: ElementType, _ shape: [Int], _ values: [Int32]) {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = shape.map(Int64.init)
        t.dataType = type.rawValue
        t.int32Data = values
        graph.initializer.append(t)
    }

    /// Adds a node with integer, integer-list, float and string attributes.
    mutating func node(
        _ op: String, _ inputs: [String], _ outputs: [String], name: String = "", domain: String = "", ints: [String: Int] = [:],
        lists: [String: [Int]] = [:], floats: [String: Float] = [:], strings: [String: String] = [:]
    ) {
        var n = Onnx_NodeProto()
        n.opType = op
        n.input = inputs
        n.output = outputs
        n.name = name.isEmpty ? outputs[0] : name
        n.domain = domain
        for (k, v) in ints.sorted(by: { $0.key < $1.key }) {
            var a = Onnx_AttributeProto()
            a.name = k
            a.type = .int
            a.i = Int64(v)
            n.attribute.append(a)
        }
        for (k, v) in lists.sorted(by: { $0.key < $1.key }) {
            var a = Onnx_AttributeProto()
            a.name = k
            a.type = .ints
            a.ints = v.map(Int64.init)
            n.attribute.append(a)
        }
        for (k, v) in floats.sorted(by: { $0.key < $1.key }) {
            var a = Onnx_AttributeProto()
            a.name = k
            a.type = .float
            a.f = v
            n.attribute.append(a)
        }
        for (k, v) in strings.sorted(by: { $0.key < $1.key }) {
            var a = Onnx_AttributeProto()
            a.name = k
            a.type = .string
            a.s = Data(v.utf8)
            n.attribute.append(a)
        }
        graph.node.append(n)
    }

    /// The serialized model.
    func bytes() throws -> [UInt8] {
        var m = Onnx_ModelProto()
        m.irVersion = 7
        m.producerName = "ONNXBuilder"
        var o = Onnx_OperatorSetIdProto()
        o.domain = ""
        o.version = opset
        m.opsetImport = [o]
        m.graph = graph
        return try m.serializedBytes()
    }

    /// Imports the model.
    func importModel(outputs: [String]? = nil) throws -> Model {
        try ONNXImporter.importModel(bytes: try bytes(), name: "test", outputs: outputs)
    }

    private static func valueInfo(_ name: String, _ dims: [Int?]) -> Onnx_ValueInfoProto {
        var v = Onnx_ValueInfoProto()
        v.name = name
        var t = Onnx_TypeProto.Tensor()
        t.elemType = ElementType.float.rawValue
        var shape = Onnx_TensorShapeProto()
        shape.dim = dims.map { d in
            var dim = Onnx_TensorShapeProto.Dimension()
            if let d { dim.dimValue = Int64(d) } else { dim.dimParam = "batch" }
            return dim
        }
        t.shape = shape
        v.type.tensorType = t
        return v
    }
}

/// Deterministic test values.
func testValues(_ count: Int, seed: UInt64) -> [Float] {
    var rng = RandomSource(seed: seed)
    return (0..<count).map { _ in rng.uniform(-1, 1) }
}
