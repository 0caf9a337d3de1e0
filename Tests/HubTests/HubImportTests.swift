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
            // Calibrated on a dataset of the hub (the fixture is a digits MLP): static int8, and
            // the dataset's digest joins the lineage.
            let csv = Array(try Data(contentsOf: HubTrainingTests.root.appendingPathComponent("data/digits.csv")))
            #expect(try await client.send(.put, "/api/v1/datasets/digits", token: tokens.alice, bytes: csv).status == .created)
            let calibrated = try await client.send(
                .post, "/api/v1/models/mlp/versions?version=1.2.0&format=onnx&outputs=probabilities&quantize=int8&calibration=digits",
                token: tokens.alice, bytes: Self.onnx)
            #expect(calibrated.status == .created, "\(calibrated.json)")
            let static12 = try ModelFile.decode(try await hub.registry.modelFileBytes(model: "mlp", version: SemanticVersion(1, 2, 0)))
            #expect(static12.quantization?.mode.rawValue == "static")
            #expect(try await hub.registry.version(model: "mlp", version: SemanticVersion(1, 2, 0)).lineage.dataDigests == [PackageDigest.sha256(csv)])
            #expect(model.quantization?.mode.rawValue == "dynamic")

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

/// Datasets on the hub and training jobs that register versions.
@Suite("Hub training")
struct HubTrainingTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test("a dataset upload and a training job register an int8 version with its lineage; the result equals a local run")
    func trainsOnTheHub() async throws {
        let csv = Array(try Data(contentsOf: Self.root.appendingPathComponent("data/digits.csv")))
        let split = try JSONSerialization.jsonObject(
            with: Data(contentsOf: Self.root.appendingPathComponent("data/digits_dirichlet05_20clients.json"))) as! [String: Any]
        let train = split["train_indices"] as! [Int]
        let test = split["test_indices"] as! [Int]
        try await withAPI { hub, tokens, client in
            let put = try await client.send(.put, "/api/v1/datasets/digits", token: tokens.alice, bytes: csv)
            #expect(put.status == .created)
            #expect(put.json["rows"] == .number(1797) && put.json["digest"] == .string(PackageDigest.sha256(csv)))
            let listed = try await client.send(.get, "/api/v1/datasets", token: tokens.viewer).json
            guard case .array(let items)? = listed["items"] else {
                Issue.record("no dataset list: \(listed)")
                return
            }
            #expect(items.count == 1 && items[0]["name"] == .string("digits"))
            let audit = try await hub.allAudit(AuditFilter(target: "dataset/digits"))
            #expect(audit.map(\.action) == [.datasetPut] && audit.map(\.subject) == ["alice"])
            #expect(try await client.send(.post, "/api/v1/models", token: tokens.alice, json: #"{"name":"digits"}"#).status == .created)
            let body = """
                {"version": "1.0.0", "dataset": "digits", "label": "label", "architecture": "mlp:32", "epochs": 8,
                 "learningRate": 0.01, "seed": 3, "scale": "divide:16", "trainRows": \(train), "testRows": \(test)}
                """
            let trained = try await client.send(.post, "/api/v1/models/digits/train", token: tokens.alice, json: body)
            #expect(trained.status == .created, "\(trained.json)")
            let accuracy = try #require(trained.json["testAccuracy"].flatMap { if case .number(let v) = $0 { v } else { nil } })
            // The same run in this process: the hub's job is deterministic and the same code.
            let all = try LabeledData(try CSV.parse(csv), label: "label")
            let local = try SupervisedTraining(
                .init(
                    name: "digits", architecture: try Architecture(parsing: "mlp:32"),
                    features: FeatureRecipe(scaling: try .init(parsing: "divide:16")),
                    config: TrainingConfig(
                        epochs: 8, batchSize: 32, optimizer: .adam(learningRate: 0.01, weightDecay: 0),
                        loss: .softmaxCrossEntropy, seed: 3))
            ).run(train: try all.selecting(rows: train), test: try all.selecting(rows: test), labelColumn: "label")
            #expect(abs(accuracy - Double(try #require(local.test?.accuracy))) < 1e-9)
            #expect(accuracy > 0.9)
            let version = try await hub.registry.version(model: "digits", version: SemanticVersion(1, 0, 0))
            #expect(version.lineage.dataDigests == [PackageDigest.sha256(csv)])
            #expect(version.lineage.trainingRun?.hasPrefix("hub-train-") == true)
            let model = try ModelFile.decode(try await hub.registry.modelFileBytes(model: "digits", version: SemanticVersion(1, 0, 0)))
            #expect(model.quantization?.mode.rawValue == "static")

            let missing = try await client.send(
                .post, "/api/v1/models/digits/train", token: tokens.alice,
                json: #"{"version": "1.1.0", "dataset": "nope", "label": "label"}"#)
            #expect(missing.status == .notFound)
            let badLabel = try await client.send(
                .post, "/api/v1/models/digits/train", token: tokens.alice,
                json: #"{"version": "1.1.0", "dataset": "digits", "label": "nope", "epochs": 1}"#)
            #expect(badLabel.status == .badRequest, "\(badLabel.json)")
        }
    }
}
