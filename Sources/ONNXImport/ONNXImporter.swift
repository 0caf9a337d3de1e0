import Core
import Foundation

/// Reads ONNX models (float, QDQ and QOperator int8) into Starling models.
///
/// NCHW image inputs become NHWC model inputs (noted in `metadata.extra["input_layout"]`), and
/// constant subgraphs are folded at import. Quantized graphs import as static int8 models whose
/// activation parameters are the graph's own.
public struct ONNXImporter: Sendable {
    /// The default-domain (ai.onnx) opset versions the importer reads.
    public static let supportedOpsets: ClosedRange<Int> = 6...21

    /// Imports the serialized ONNX model `bytes` as a model called `name`; `outputs` picks the graph
    /// outputs to keep (nil keeps all), and only the nodes they depend on are imported.
    public static func importModel(bytes: [UInt8], name: String, outputs: [String]? = nil) throws(ModelError) -> Model {
        try importModel(bytes: bytes, name: name, outputs: outputs, source: "onnx")
    }

    /// Imports the ONNX file at `path`; the model is named after the file unless `name` is given.
    public static func importModel(path: String, name: String? = nil, outputs: [String]? = nil) throws(ModelError) -> Model {
        let url = URL(fileURLWithPath: path)
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ModelError(.io, "cannot read ONNX file '\(path)': \(error.localizedDescription)")
        }
        let file = url.lastPathComponent
        let fallback = url.deletingPathExtension().lastPathComponent
        return try importModel(bytes: [UInt8](data), name: name ?? fallback, outputs: outputs, source: "onnx:\(file)")
    }

    private static func importModel(bytes: [UInt8], name: String, outputs: [String]?, source: String) throws(ModelError) -> Model
    {
        let proto = try parse(bytes)
        let opset = try defaultOpset(of: proto)
        var importer = try GraphImporter(graph: proto.graph, opset: opset, outputs: outputs)
        try importer.run()
        let (graph, quantization, outputRanks) = try importer.finish()
        var extra: [String: String] = [
            "onnx_opset": String(opset),
            "onnx_ir_version": String(proto.irVersion),
        ]
        let producer = [proto.producerName, proto.producerVersion].filter { !$0.isEmpty }.joined(separator: " ")
        if !producer.isEmpty { extra["onnx_producer"] = producer }
        if let layout = layoutNote(importer.convertedInputRanks) { extra["input_layout"] = layout }
        if let layout = layoutNote(outputRanks) { extra["output_layout"] = layout }
        if quantization != nil {
            let qoperator = proto.graph.node.contains { $0.opType.hasPrefix("QLinear") }
            extra["quantization_format"] = qoperator ? "QOperator" : "QDQ"
        }
        if let outputs { extra["onnx_outputs"] = outputs.joined(separator: ",") }
        let metadata = ModelMetadata(name: name, source: source, extra: extra)
        let model = Model(metadata: metadata, graph: graph, quantization: quantization)
        do {
            try model.validate()
        } catch {
            throw ModelError(error.code, "the imported ONNX graph does not form a valid Starling model: \(error.message)")
        }
        return model
    }

    /// How converted inputs or outputs are laid out, or nil when none were converted.
    private static func layoutNote(_ ranks: [Int]) -> String? {
        guard !ranks.isEmpty else { return nil }
        if ranks.allSatisfy({ $0 == 4 }) { return "NHWC (converted from NCHW)" }
        if ranks.allSatisfy({ $0 == 3 }) { return "NHWC with H = 1 (converted from NCW)" }
        return "NHWC (converted from NCHW; NCW as NHWC with H = 1)"
    }

    /// Decodes the protobuf, refusing anything that is not a plausible ONNX model.
    static func parse(_ bytes: [UInt8]) throws(ModelError) -> Onnx_ModelProto {
        guard !bytes.isEmpty else { throw ModelError(.corruptFile, "the ONNX file is empty") }
        let proto: Onnx_ModelProto
        do {
            proto = try Onnx_ModelProto(serializedBytes: bytes)
        } catch {
            throw ModelError(.corruptFile, "the file is not a valid ONNX model: protobuf decoding failed (\(error))")
        }
        guard proto.hasIrVersion, proto.irVersion > 0, proto.hasGraph else {
            throw ModelError(
                .corruptFile, "the file is not an ONNX model: it has no IR version or no graph (truncated or another format?)")
        }
        guard !proto.graph.node.isEmpty || !proto.graph.output.isEmpty else {
            throw ModelError(.corruptFile, "the ONNX graph is empty (is the file truncated?)")
        }
        return proto
    }

    /// The ai.onnx opset version the model imports, checked against `supportedOpsets`.
    static func defaultOpset(of proto: Onnx_ModelProto) throws(ModelError) -> Int {
        guard let entry = proto.opsetImport.first(where: { $0.domain.isEmpty || $0.domain == "ai.onnx" }) else {
            throw ModelError(.corruptFile, "the ONNX model declares no ai.onnx opset version (is the file truncated?)")
        }
        let version = Int(clamping: entry.version)
        if version > supportedOpsets.upperBound {
            throw ModelError(
                .newerFormat,
                "the ONNX model uses opset \(version); Starling imports opsets \(supportedOpsets.lowerBound)–\(supportedOpsets.upperBound), "
                    + "so re-export it with opset \(supportedOpsets.upperBound) or lower")
        }
        if version < supportedOpsets.lowerBound {
            throw ModelError(
                .unsupportedOp,
                "the ONNX model uses opset \(version); Starling imports opsets \(supportedOpsets.lowerBound)–\(supportedOpsets.upperBound), "
                    + "so convert it to a newer opset (onnx.version_converter)")
        }
        return version
    }
}
