import Core
import Foundation
import Testing

@testable import ONNXImport

/// Reads the ONNX fixture folders (model.onnx plus test_data_set_0/{input,output}_N.pb).
enum Fixtures {
    /// The fixture root: the copied bundle resource, or the source folder next to this file.
    static let root: URL = {
        if let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) { return url }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    }()

    /// The folder of fixture `name` (e.g. "ort/mlp_gemm" or "onnx-conformance/test_Conv2d").
    static func folder(_ name: String) -> URL {
        root.appendingPathComponent(name)
    }

    /// The bytes of a fixture's model.onnx.
    static func modelBytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: folder(name).appendingPathComponent("model.onnx")))
    }

    /// The parsed model.onnx of a fixture, for tests that edit it.
    static func modelProto(_ name: String) throws -> Onnx_ModelProto {
        try Onnx_ModelProto(serializedBytes: try modelBytes(name))
    }

    /// Serialized tensors `input_N.pb` or `output_N.pb`, read as float tensors in ONNX layout.
    static func tensors(_ name: String, prefix: String) throws -> [Tensor] {
        let dir = folder(name).appendingPathComponent("test_data_set_0")
        var result: [Tensor] = []
        var i = 0
        while FileManager.default.fileExists(atPath: dir.appendingPathComponent("\(prefix)_\(i).pb").path) {
            result.append(try tensor(at: dir.appendingPathComponent("\(prefix)_\(i).pb")))
            i += 1
        }
        return result
    }

    /// One serialized `onnx.TensorProto` (raw_data or typed fields; float, int64, int32, uint8, int8, ...).
    static func tensor(at url: URL) throws -> Tensor {
        let proto = try Onnx_TensorProto(serializedBytes: [UInt8](try Data(contentsOf: url)))
        return try ConstantTensor(proto, what: url.lastPathComponent).tensor
    }

    /// How many fixture folders each group holds. `cases(in:)` finds none when the folder is missing
    /// (a resource not copied, a moved file), which would let a parameterized test pass on zero cases;
    /// `FloatFixtureTests.everyFixtureFolderIsFound` holds the counts to these numbers.
    static let expectedCaseCounts = ["onnx-conformance": 29, "ort": 10]

    /// All fixture folders under `group` ("onnx-conformance" or "ort").
    static func cases(in group: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder(group).path)) ?? []
        return names.filter {
            FileManager.default.fileExists(atPath: folder(group + "/" + $0).appendingPathComponent("model.onnx").path)
        }
        .sorted()
    }
}

/// Layout conversions and comparisons used by the importer tests.
enum Check {
    /// `t` (ONNX [N, C, spatial...]) in channels-last element order, shaped like `like`.
    static func channelsLast(_ t: Tensor, shape like: [Int]) -> Tensor {
        let (n, c) = (t.shape[0], t.shape[1])
        let positions = t.count / max(n * c, 1)
        var out = [Float](repeating: 0, count: t.count)
        for b in 0..<n {
            for ch in 0..<c {
                for p in 0..<positions { out[(b * positions + p) * c + ch] = t.scalars[(b * c + ch) * positions + p] }
            }
        }
        return Tensor(shape: like, scalars: out)
    }

    /// The model's inputs for ONNX-layout tensors, converted where the importer made an input NHWC.
    static func feeds(_ model: Model, _ tensors: [Tensor]) -> [String: Tensor] {
        var feeds: [String: Tensor] = [:]
        for (spec, t) in zip(model.graph.inputs, tensors) {
            let concrete = spec.shape.enumerated().map { $0.element < 0 ? t.shape[$0.offset] : $0.element }
            feeds[spec.name] = t.shape == concrete ? t : channelsLast(t, shape: concrete)
        }
        return feeds
    }

    /// Expected output `t` in the model's output layout (NHWC when the metadata says so).
    static func expected(_ t: Tensor, model: Model, actual: Tensor) -> Tensor {
        if model.metadata.extra["output_layout"] != nil, t.rank >= 3, actual.rank == 4 {
            return channelsLast(t, shape: actual.shape)
        }
        return t
    }

    /// `t` with values beyond float32's range (read from float64 data as ±infinity) replaced by 0.
    static func finite(_ t: Tensor) -> Tensor {
        Tensor(shape: t.shape, scalars: t.scalars.map { $0.isFinite ? $0 : 0 })
    }

    /// Largest violation ratio of |a − e| ≤ atol + rtol·|e| (≤ 1 passes) and the largest absolute error, over the finite expected values.
    /// Any NaN or infinite actual value fails outright (both results are infinity): `Swift.max(x, NaN)`
    /// returns x, so a NaN output would otherwise vanish from the maxima.
    static func compare(_ actual: Tensor, _ expected: Tensor, rtol: Float, atol: Float) -> (worst: Float, maxAbs: Float) {
        var worst: Float = 0
        var maxAbs: Float = 0
        for (a, e) in zip(actual.scalars, expected.scalars) {
            guard a.isFinite else { return (.infinity, .infinity) }
            guard e.isFinite else { continue }
            let d = abs(a - e)
            maxAbs = max(maxAbs, d)
            worst = max(worst, d / (atol + rtol * abs(e)))
        }
        return (worst, maxAbs)
    }
}
