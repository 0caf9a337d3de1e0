import Core
import Foundation
import ONNXImport

/// `starling-bench sizes`: for each model, the fp32 ONNX file beside Starling's int8 model file
/// and the int8 + zstd package (level 3, the default), one JSON line per model.
struct PackageSizes {
    static let usage = """
        usage: starling-bench sizes --dir DIR NAME...
        For each NAME: DIR/NAME.fp32.onnx and DIR/NAME.int8.onnx (from make_models.py) against the
        int8 .starling file imported from the int8 ONNX and its signed zstd package.
        """

    /// One model's sizes.
    struct Row: Encodable {
        var section = "sizes"
        var caseName: String
        var side = "starling"
        var fp32OnnxBytes: Int
        var int8OnnxBytes: Int
        var starlingBytes: Int
        var payloadBytes: Int
        var packageBytes: Int
        var parameters: Int

        enum CodingKeys: String, CodingKey {
            case section, caseName = "case", side, fp32OnnxBytes = "fp32_onnx_bytes", int8OnnxBytes = "int8_onnx_bytes"
            case starlingBytes = "starling_bytes", payloadBytes = "payload_bytes", packageBytes = "package_bytes", parameters
        }
    }

    static func run(_ arguments: [String]) throws {
        guard arguments.count >= 3, arguments[0] == "--dir" else { throw BenchError(usage) }
        let dir = arguments[1]
        let key = SigningKey.generate(name: "bench")
        for name in arguments[2...] {
            let fp32 = "\(dir)/\(name).fp32.onnx", int8 = "\(dir)/\(name).int8.onnx"
            let model = try ONNXImporter.importModel(path: int8)
            let bytes = try ModelFile.encode(model)
            let options = PackageOptions(name: name, version: SemanticVersion("1.0.0")!, createdAt: "2026-01-01T00:00:00Z")
            let package = try ModelPackage.create(model: bytes, options: options, key: key)
            try printJSON(
                Row(
                    caseName: name, fp32OnnxBytes: try FileIO.size(fp32), int8OnnxBytes: try FileIO.size(int8),
                    starlingBytes: bytes.count, payloadBytes: package.payload.count, packageBytes: package.encode().count,
                    parameters: model.graph.parameterCount))
        }
    }
}
