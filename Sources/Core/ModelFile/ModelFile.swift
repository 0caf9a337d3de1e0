#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The `.starling` model file: a versioned container for graph, weights, features and metadata.
///
/// Layout (little-endian): magic `STARMODL`, format major (u16), minor (u16), header length
/// (u32), the header as canonical JSON (sorted keys), zero padding to a multiple of 64, the
/// tensor data (each tensor 64-byte aligned), and a CRC-32 of everything before it (u32).
///
/// Compatibility rule: a reader loads any file of its own major version. A newer minor version
/// only adds optional fields, which older readers ignore; a file that needs a reader feature
/// lists it in `requires`, and a reader refuses a file requiring a feature it does not know.
/// A newer major version is refused with an error that says to upgrade.
public enum ModelFile {
    /// The format version this build writes.
    public static let formatVersion = (major: UInt16(1), minor: UInt16(0))
    /// Optional features this reader understands (listed by files in `requires`).
    public static let knownFeatures: Set<String> = ["int8-weights", "feature-pipeline"]
    static let magic = Array("STARMODL".utf8)
    static let maxHeaderBytes = 64 << 20

    // MARK: - Header schema

    struct Header: Codable {
        var requires: [String]
        var metadata: ModelMetadata
        var features: FeaturePipeline?
        var graph: GraphHeader
        var tensors: [TensorEntry]
        var quantization: QuantizationHeader?
    }

    struct GraphHeader: Codable {
        var inputs: [ValueSpec]
        var outputs: [String]
        var nodes: [Node]
        var frozen: [String]
    }

    struct TensorEntry: Codable {
        var name: String
        var dtype: String
        var shape: [Int]
        var offset: Int
        var length: Int
        var scales: [Float]?
        var axis: Int?
    }

    struct QuantizationHeader: Codable {
        var mode: QuantizationSpec.Mode
        var activations: [String: ActivationQuant]
        var calibration: QuantizationSpec.Calibration?
        var enforced: [String]?
    }

    // MARK: - Writing

    /// Serialises `model`. Float weights of quantized initializers are left out unless
    /// `keepFloatWeights` is true (a reader then dequantizes them).
    public static func encode(_ model: Model, keepFloatWeights: Bool = false) throws(ModelError) -> [UInt8] {
        try model.validate()
        var blob: [UInt8] = []
        var entries: [TensorEntry] = []
        func append(_ name: String, dtype: String, shape: [Int], bytes: UnsafeRawBufferPointer, scales: [Float]? = nil, axis: Int? = nil) {
            while blob.count % 64 != 0 { blob.append(0) }
            entries.append(TensorEntry(name: name, dtype: dtype, shape: shape, offset: blob.count, length: bytes.count, scales: scales, axis: axis))
            blob.append(contentsOf: bytes)
        }
        let quant = model.quantization
        for name in model.graph.initializers.keys.sorted() {
            let tensor = model.graph.initializers[name]!
            if let q = quant?.weights[name] {
                q.values.withUnsafeBytes { append(name, dtype: "int8", shape: q.shape, bytes: $0, scales: q.scales, axis: q.axis) }
                if !keepFloatWeights { continue }
            }
            if let b = quant?.biases[name] {
                b.values.withUnsafeBytes { append(name, dtype: "int32", shape: tensor.shape, bytes: $0, scales: b.scales) }
                if !keepFloatWeights { continue }
            }
            tensor.scalars.withUnsafeBytes { append(name, dtype: "float32", shape: tensor.shape, bytes: $0) }
        }
        var requires: [String] = []
        if let quant, !quant.weights.isEmpty { requires.append("int8-weights") }
        if model.features != nil { requires.append("feature-pipeline") }
        let header = Header(
            requires: requires, metadata: model.metadata,
            features: model.features,
            graph: GraphHeader(
                inputs: model.graph.inputs, outputs: model.graph.outputs, nodes: model.graph.nodes,
                frozen: model.graph.frozen.sorted()),
            tensors: entries,
            quantization: quant.map { QuantizationHeader(
                    mode: $0.mode, activations: $0.activations, calibration: $0.calibration,
                    enforced: $0.enforced.isEmpty ? nil : $0.enforced.sorted())
            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json: [UInt8]
        do {
            json = Array(try encoder.encode(header))
        } catch {
            throw ModelError(.invalidGraph, "the model cannot be serialised", underlying: error)
        }
        var out = magic
        out.appendLittleEndian(formatVersion.major)
        out.appendLittleEndian(formatVersion.minor)
        out.appendLittleEndian(UInt32(json.count))
        out.append(contentsOf: json)
        while out.count % 64 != 0 { out.append(0) }
        out.append(contentsOf: blob)
        out.appendLittleEndian(CRC32.checksum(out))
        return out
    }
}

extension [UInt8] {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    func readLittleEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        var value: T = 0
        Swift.withUnsafeMutableBytes(of: &value) { dst in
            self.withUnsafeBytes { src in
                dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[offset..<(offset + MemoryLayout<T>.size)]))
            }
        }
        return T(littleEndian: value)
    }
}
