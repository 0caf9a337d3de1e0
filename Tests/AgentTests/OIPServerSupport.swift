import Core
import Foundation

@testable import Agent

/// Starts a real `InferenceService` on a free loopback port for one test and always shuts it down.
func withOIPServer<T: Sendable>(
    registry: ModelRegistry? = nil, log: (any PredictionLog)? = nil,
    configuration: InferenceServiceConfiguration = .init(port: 0),
    _ body: (InferenceService, Int) async throws -> T
) async throws -> T {
    let registry =
        try registry
        ?? {
            let registry = ModelRegistry(metrics: ServingMetrics())
            try registry.load(OIPFixtures.digitsModel, name: "digits", version: "1")
            return registry
        }()
    var configuration = configuration
    configuration.port = 0
    let service = InferenceService(configuration: configuration, registry: registry, log: log)
    let port = try await service.start()
    do {
        let result = try await body(service, port)
        await service.shutdown()
        return result
    } catch {
        await service.shutdown()
        throw error
    }
}

/// JSON bodies and binary bodies of the digits model.
enum OIPBodies {
    static func json(pixels: [Float], id: String? = nil, extra: String = "") -> String {
        let rows = pixels.count / 64
        let data = pixels.map { String(Int($0)) }.joined(separator: ",")
        let idPart = id.map { #""id":"\#($0)","# } ?? ""
        return #"{\#(idPart)"inputs":[{"name":"input","shape":[\#(rows),64],"datatype":"FP32","data":[\#(data)]}]\#(extra)}"#
    }

    /// A binary request: the header JSON and the little-endian floats.
    static func binary(pixels: [Float], outputsBinary: Bool = true) -> (body: [UInt8], headerLength: Int) {
        let rows = pixels.count / 64
        let header =
            #"{"inputs":[{"name":"input","shape":[\#(rows),64],"datatype":"FP32","parameters":{"binary_data_size":\#(pixels.count * 4)}}],"parameters":{"binary_data_output":\#(outputsBinary)}}"#
        var body = Array(header.utf8)
        for value in pixels { withUnsafeBytes(of: value.bitPattern.littleEndian) { body.append(contentsOf: $0) } }
        return (body, header.utf8.count)
    }
}

extension OIPHTTPClient.Response {
    /// The FP32 `data` of output `name` in a JSON response.
    func floats(_ name: String) -> [Float]? {
        guard let outputs = json?["outputs"] as? [[String: Any]],
            let output = outputs.first(where: { $0["name"] as? String == name }),
            let data = output["data"] as? [Double]
        else { return nil }
        return data.map(Float.init)
    }

    /// Splits a binary response into its JSON header and the binary outputs, by name.
    func binaryOutputs() -> (header: [String: Any], blobs: [String: [UInt8]])? {
        guard let length = headers["inference-header-content-length"].flatMap({ Int($0) }), length <= body.count,
            let header = try? JSONSerialization.jsonObject(with: Data(body[0..<length])) as? [String: Any],
            let outputs = header["outputs"] as? [[String: Any]]
        else { return nil }
        var offset = length
        var blobs: [String: [UInt8]] = [:]
        for output in outputs {
            guard let parameters = output["parameters"] as? [String: Any], let size = parameters["binary_data_size"] as? Int,
                let name = output["name"] as? String
            else { continue }
            blobs[name] = Array(body[offset..<(offset + size)])
            offset += size
        }
        return offset == body.count ? (header, blobs) : nil
    }
}

extension Array where Element == UInt8 {
    /// Little-endian FP32 values.
    var littleEndianFloats: [Float] {
        stride(from: 0, to: count - 3, by: 4).map { i in
            Float(bitPattern: UInt32(self[i]) | UInt32(self[i + 1]) << 8 | UInt32(self[i + 2]) << 16 | UInt32(self[i + 3]) << 24)
        }
    }
}
