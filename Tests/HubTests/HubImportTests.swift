import Core
import Foundation
import HTTPTypes
import Testing

@testable import Hub

/// ONNX files uploaded to the registry are imported (and quantized) on the hub.
@Suite("Hub ONNX import")
struct HubImportTests {
    /// A small scikit-learn MLP exported to ONNX (the importer's own fixture).
    static let onnx: [UInt8] = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        return Array(try! Data(contentsOf: root.appendingPathComponent("ONNXImportTests/Fixtures/ort/sklearn_mlp/model.onnx")))
    }()

    @Test("an ONNX upload becomes a signed int8 version with its import source; bad ONNX, formats and ops are refused")
    func importsONNX() async throws {
        try await withAPI { hub, tokens, client in
            #expect(try await client.send(.post, "/api/v1/models", token: tokens.alice, json: #"{"name":"mlp"}"#).status == .created)
            let created = try await client.send(
                .post, "/api/v1/models/mlp/versions?version=1.0.0&format=onnx&outputs=probabilities", token: tokens.alice, bytes: Self.onnx)
            #expect(created.status == .created, "\(created.json)")
            #expect(created.json["lineage"]?["importSource"] == .string("onnx:sha256:" + PackageDigest.sha256(Self.onnx)))
            let file = try await hub.registry.modelFileBytes(model: "mlp", version: SemanticVersion(1, 0, 0))
            let model = try ModelFile.decode(file)
            #expect(!model.graph.nodes.isEmpty)
            #expect(model.quantization != nil)
            let float = try await client.send(
                .post, "/api/v1/models/mlp/versions?version=1.1.0&format=onnx&quantize=none&outputs=probabilities", token: tokens.alice,
                bytes: Self.onnx)
            #expect(float.status == .created)
            #expect(try ModelFile.decode(try await hub.registry.modelFileBytes(model: "mlp", version: SemanticVersion(1, 1, 0))).quantization == nil)

            let broken = try await client.send(
                .post, "/api/v1/models/mlp/versions?version=2.0.0&format=onnx", token: tokens.alice,
                bytes: Array(Self.onnx.prefix(100)))
            #expect(broken.status == .badRequest && broken.errorCode() == "packagingFailed")
            // Without choosing outputs, the classic-ML tail is refused, naming the op.
            let tail = try await client.send(
                .post, "/api/v1/models/mlp/versions?version=2.0.0&format=onnx", token: tokens.alice, bytes: Self.onnx)
            #expect(tail.status == .badRequest && tail.errorCode() == "packagingFailed")
            let unknown = try await client.send(
                .post, "/api/v1/models/mlp/versions?version=2.0.0&format=tflite", token: tokens.alice, bytes: Self.onnx)
            #expect(unknown.status == .badRequest)
            let viewer = try await client.send(
                .post, "/api/v1/models/mlp/versions?version=2.0.0&format=onnx&outputs=probabilities", token: tokens.viewer, bytes: Self.onnx)
            #expect(viewer.status == .forbidden)
        }
    }
}
