#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension ModelFile {
    /// Parses and validates a model file. Every malformed input gives a `ModelError`
    /// (`corruptFile`, `newerFormat`, `unsupportedOp`, ...), never a crash.
    public static func decode(_ bytes: [UInt8]) throws(ModelError) -> Model {
        guard bytes.count >= 20, Array(bytes[0..<8]) == magic else {
            throw ModelError(.corruptFile, "not a Starling model file (missing the STARMODL signature)")
        }
        let major = bytes.readLittleEndian(UInt16.self, at: 8)
        let minor = bytes.readLittleEndian(UInt16.self, at: 10)
        if major > formatVersion.major {
            throw ModelError(
                .newerFormat,
                "model format \(major).\(minor) is newer than this reader supports (\(formatVersion.major).x); upgrade starling")
        }
        guard major == formatVersion.major else {
            throw ModelError(.corruptFile, "model format \(major).\(minor) is not a version this reader knows")
        }
        let headerLength = Int(bytes.readLittleEndian(UInt32.self, at: 12))
        guard headerLength <= maxHeaderBytes, 16 + headerLength + 4 <= bytes.count else {
            throw ModelError(.corruptFile, "the model file is truncated (header of \(headerLength) bytes does not fit)")
        }
        let stored = bytes.readLittleEndian(UInt32.self, at: bytes.count - 4)
        let actual = bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<(bytes.count - 4)])) }
        guard stored == actual else {
            throw ModelError(.corruptFile, "the model file is corrupt or truncated (checksum mismatch)")
        }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(bytes[16..<(16 + headerLength)]))
        } catch let error as ModelError {
            throw error
        } catch {
            throw ModelError(.corruptFile, "the model header is not valid", underlying: error)
        }
        if let unknown = header.requires.first(where: { !knownFeatures.contains($0) }) {
            throw ModelError(
                .newerFormat, "the model needs reader feature '\(unknown)' (format \(major).\(minor)); upgrade starling")
        }
        var blobStart = 16 + headerLength
        blobStart += (64 - blobStart % 64) % 64
        let blobEnd = bytes.count - 4
        guard blobStart <= blobEnd else { throw ModelError(.corruptFile, "the model file is truncated") }
        return try assemble(header, bytes: bytes, blob: blobStart..<blobEnd)
    }

    private static func assemble(_ header: Header, bytes: [UInt8], blob: Range<Int>) throws(ModelError) -> Model {
        var floats: [String: Tensor] = [:]
        var weights: [String: QuantizedWeight] = [:]
        var biases: [String: QuantizedBias] = [:]
        for entry in header.tensors {
            let fail = { (why: String) in ModelError(.corruptFile, "tensor '\(entry.name)': \(why)") }
            let size: Int
            switch entry.dtype {
            case "float32", "int32": size = 4
            case "int8": size = 1
            default: throw fail("unknown element type '\(entry.dtype)'")
            }
            guard let count = Graph.elementCount(entry.shape) else { throw fail("invalid shape \(entry.shape)") }
            guard entry.offset >= 0, entry.length >= 0, entry.length <= blob.count, entry.offset <= blob.count - entry.length,
                count * size == entry.length
            else { throw fail("data range does not fit the file") }
            let start = blob.lowerBound + entry.offset
            let raw = bytes[start..<(start + entry.length)]
            switch entry.dtype {
            case "float32":
                let tensor = Tensor(shape: entry.shape, scalars: raw.loadArray(Float.self, count: count))
                guard tensor.isFinite else { throw ModelError(.nonFinite, "tensor '\(entry.name)' holds NaN or infinity") }
                floats[entry.name] = tensor
            case "int8":
                let axis = entry.axis ?? 0
                guard let scales = entry.scales, axis >= 0, axis < entry.shape.count,
                    scales.count == 1 || scales.count == entry.shape[axis], scales.allSatisfy({ $0 > 0 && $0.isFinite })
                else { throw fail("int8 weights need one positive scale per channel") }
                weights[entry.name] = QuantizedWeight(
                    shape: entry.shape, values: raw.loadArray(Int8.self, count: count), scales: scales, axis: axis)
            default:
                guard let scales = entry.scales, scales.count == count, scales.allSatisfy({ $0 > 0 && $0.isFinite }) else {
                    throw fail("int32 biases need one positive scale per element")
                }
                biases[entry.name] = QuantizedBias(values: raw.loadArray(Int32.self, count: count), scales: scales)
            }
        }
        for (name, weight) in weights where floats[name] == nil { floats[name] = weight.dequantized() }
        for (name, bias) in biases where floats[name] == nil {
            floats[name] = Tensor(shape: [bias.values.count], scalars: zip(bias.values, bias.scales).map { Float($0) * $1 })
        }
        let graph = Graph(
            inputs: header.graph.inputs, outputs: header.graph.outputs, nodes: header.graph.nodes, initializers: floats,
            frozen: Set(header.graph.frozen))
        let quantization = header.quantization.map {
            QuantizationSpec(
                mode: $0.mode, activations: $0.activations, weights: weights, biases: biases, calibration: $0.calibration,
                enforced: Set($0.enforced ?? []))
        }
        let model = Model(metadata: header.metadata, features: header.features, graph: graph, quantization: quantization)
        try model.validate()
        return model
    }

    /// Reads and decodes the model file at `path`.
    public static func read(path: String) throws(ModelError) -> Model {
        try decode(try FileIO.read(path))
    }

    /// Encodes `model` and writes it to `path` atomically.
    public static func write(_ model: Model, path: String, keepFloatWeights: Bool = false) throws(ModelError) {
        try FileIO.writeAtomically(try encode(model, keepFloatWeights: keepFloatWeights), to: path)
    }
}

extension ArraySlice<UInt8> {
    /// Copies little-endian elements of `T` out of the bytes.
    func loadArray<T>(_: T.Type, count: Int) -> [T] {
        [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            self.withUnsafeBytes { src in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: src)
            }
            initialized = count
        }
    }
}
