import Foundation
import Testing

@testable import Core

@Suite("Model file format")
struct ModelFileTests {
    /// A small quantized model with a feature pipeline, batch norm and a convolution.
    static func sampleModel() throws -> Model {
        var graph = try ModelBuilder.build(
            .cnn(layers: [.conv(filters: 4, kernel: 3, stride: 1, same: true), .batchNorm, .maxPool(2), .dense(8)]),
            inputShape: [4, 4, 1], outputs: 3, seed: 5)
        graph.initializers["bn3.mean"] = Tensor(shape: [4], scalars: [0.1, -0.2, 0.3, 0])
        let pipeline = FeaturePipeline(steps: [
            FeatureStep(columns: (0..<16).map { "p\($0)" }, transform: .image(height: 4, width: 4, channels: 1, factor: 1 / 16, offset: 0))
        ])
        let model = Model(metadata: ModelMetadata(name: "sample", classes: ["a", "b", "c"]), features: pipeline, graph: graph)
        var random = RandomSource(seed: 9)
        let x = Tensor(shape: [20, 4, 4, 1], scalars: (0..<320).map { _ in random.uniform(0, 1) })
        return try Quantizer().quantize(model, calibrationFeeds: ["input": x])
    }

    @Test("a model survives encode and decode unchanged")
    func roundTrip() throws {
        let model = try Self.sampleModel()
        let bytes = try ModelFile.encode(model, keepFloatWeights: true)
        let decoded = try ModelFile.decode(bytes)
        #expect(decoded == model)
        #expect(try ModelFile.encode(decoded, keepFloatWeights: true) == bytes, "encoding is deterministic")
    }

    @Test("without float weights the reader dequantizes the int8 ones")
    func int8Only() throws {
        let model = try Self.sampleModel()
        let small = try ModelFile.encode(model)
        let large = try ModelFile.encode(model, keepFloatWeights: true)
        #expect(small.count < large.count)
        let decoded = try ModelFile.decode(small)
        #expect(decoded.quantization == model.quantization)
        for (name, weight) in model.quantization!.weights {
            #expect(decoded.graph.initializers[name] == weight.dequantized())
        }
        let x = Tensor(shape: [2, 4, 4, 1], repeating: 0.5)
        let a = try Int8Program(model: model, backend: .reference)
        let b = try Int8Program(model: decoded, backend: .reference)
        #expect(try a.run(["input": x], workspace: a.makeWorkspace()) == b.run(["input": x], workspace: b.makeWorkspace()))
    }

    @Test("every truncation and every flipped byte is refused with an error")
    func corruption() throws {
        let bytes = try ModelFile.encode(try Self.sampleModel())
        for length in [0, 7, 8, 19, 20, 100, bytes.count / 2, bytes.count - 1] {
            #expect(throws: ModelError.self) { try ModelFile.decode(Array(bytes.prefix(length))) }
        }
        var random = RandomSource(seed: 1)
        for _ in 0..<200 {
            var damaged = bytes
            let i = random.below(bytes.count)
            damaged[i] ^= UInt8(1 << random.below(8))
            #expect(throws: ModelError.self) { try ModelFile.decode(damaged) }
        }
        #expect(throws: ModelError.self) { try ModelFile.decode(Array("not a model at all, just text".utf8)) }
    }

    /// Rewrites the header JSON of an encoded file and fixes the checksum, as a newer writer would.
    static func rewritingHeader(_ bytes: [UInt8], version: (UInt16, UInt16)? = nil, _ edit: (inout [String: Any]) -> Void) throws -> [UInt8] {
        let length = Int(bytes.readLittleEndian(UInt32.self, at: 12))
        var header = try JSONSerialization.jsonObject(with: Data(bytes[16..<(16 + length)])) as! [String: Any]
        edit(&header)
        let json = Array(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        let oldStart = (16 + length + 63) / 64 * 64
        var out = Array(bytes[0..<8])
        out.appendLittleEndian(version?.0 ?? bytes.readLittleEndian(UInt16.self, at: 8))
        out.appendLittleEndian(version?.1 ?? bytes.readLittleEndian(UInt16.self, at: 10))
        out.appendLittleEndian(UInt32(json.count))
        out += json
        while out.count % 64 != 0 { out.append(0) }
        out += bytes[oldStart..<(bytes.count - 4)]
        out.appendLittleEndian(CRC32.checksum(out))
        return out
    }

    @Test("a newer major version is refused; a newer minor version with unknown fields loads")
    func versioning() throws {
        let bytes = try ModelFile.encode(try Self.sampleModel())
        let major = try Self.rewritingHeader(bytes, version: (2, 0)) { _ in }
        #expect {
            try ModelFile.decode(major)
        } throws: { ($0 as? ModelError)?.code == .newerFormat && "\($0)".contains("upgrade") }

        let minor = try Self.rewritingHeader(bytes, version: (1, 7)) { header in
            header["someFutureField"] = ["anything": 1]
            var metadata = header["metadata"] as! [String: Any]
            metadata["newAttribute"] = "ignored"
            header["metadata"] = metadata
        }
        #expect(try ModelFile.decode(minor).graph == ModelFile.decode(bytes).graph)

        let required = try Self.rewritingHeader(bytes, version: (1, 7)) { header in
            header["requires"] = ["int8-weights", "sparse-tensors"]
        }
        #expect {
            try ModelFile.decode(required)
        } throws: { ($0 as? ModelError)?.code == .newerFormat && "\($0)".contains("sparse-tensors") }
    }

    @Test("an unknown op names itself; NaN weights are refused")
    func badContent() throws {
        let bytes = try ModelFile.encode(try Self.sampleModel())
        let unknownOp = try Self.rewritingHeader(bytes) { header in
            var graph = header["graph"] as! [String: Any]
            var nodes = graph["nodes"] as! [[String: Any]]
            var op = nodes[0]["op"] as! [String: Any]
            op["kind"] = "lstm"
            nodes[0]["op"] = op
            graph["nodes"] = nodes
            header["graph"] = graph
        }
        #expect {
            try ModelFile.decode(unknownOp)
        } throws: { ($0 as? ModelError)?.code == .unsupportedOp && "\($0)".contains("lstm") }

        var model = try Self.sampleModel()
        model.quantization = nil
        let bias = model.graph.initializers.keys.sorted().first { $0.hasSuffix(".bias") }!
        model.graph.initializers[bias]!.scalars[0] = .nan
        #expect(throws: ModelError.self) { try ModelFile.encode(model) }
    }

    @Test("the CRC-32 matches the standard check value")
    func crc() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    }

    @Test("bad numbers inside a well-formed header are refused", arguments: [
        "huge dimensions", "negative offset", "offset past the end", "axis out of range", "scalar with scales",
        "zero point 300", "zero scale", "huge reshape", "window stride 0", "duplicate classes",
    ])
    func badHeaderNumbers(_ damage: String) throws {
        let bytes = try ModelFile.encode(try Self.sampleModel())
        let bad = try Self.rewritingHeader(bytes) { header in
            var tensors = header["tensors"] as! [[String: Any]]
            var graph = header["graph"] as! [String: Any]
            var nodes = graph["nodes"] as! [[String: Any]]
            var quantization = header["quantization"] as! [String: Any]
            var activations = quantization["activations"] as! [String: [String: Any]]
            var metadata = header["metadata"] as! [String: Any]
            let int8 = tensors.firstIndex { $0["dtype"] as? String == "int8" }!
            switch damage {
            case "huge dimensions": tensors[0]["shape"] = [1 << 30, 1 << 30, 4]
            case "negative offset": tensors[0]["offset"] = -64
            case "offset past the end": tensors[0]["offset"] = Int.max - 8
            case "axis out of range": tensors[int8]["axis"] = 7
            case "scalar with scales":
                tensors[int8]["shape"] = []
                tensors[int8]["length"] = 1
            case "zero point 300": activations["input"]!["zeroPoint"] = 300
            case "zero scale": activations["input"]!["scale"] = 0
            case "huge reshape":
                nodes.append(["name": "big", "op": ["kind": "reshape", "shape": [-1, 1 << 62, 1 << 62]], "inputs": ["probabilities"], "output": "big"])
                graph["outputs"] = ["big"]
            case "window stride 0":
                let i = nodes.firstIndex { ($0["op"] as! [String: Any])["kind"] as? String == "max_pool" }!
                var op = nodes[i]["op"] as! [String: Any]
                var window = op["window"] as! [String: Any]
                window["stride"] = [0, 0]
                op["window"] = window
                nodes[i]["op"] = op
            case "duplicate classes": metadata["classes"] = ["a", "a", "c"]
            default: Issue.record("unknown damage \(damage)")
            }
            graph["nodes"] = nodes
            quantization["activations"] = activations
            header["tensors"] = tensors
            header["graph"] = graph
            header["quantization"] = quantization
            header["metadata"] = metadata
        }
        #expect(throws: ModelError.self) { try ModelFile.decode(bad) }
    }
}
