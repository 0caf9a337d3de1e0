import Foundation
import Testing

@testable import Core

/// Delta packages between two consecutive trained versions of the digits model.
@Suite("Model package deltas")
struct ArtifactDeltaTests {
    /// v1: the digits MLP trained 30 epochs; v2: the same network trained 5 more. Both int8 with
    /// static calibration, with their training summaries in the metadata (as `model train` writes).
    static let versions: (v1: [UInt8], v2: [UInt8]) = {
        let (train, _) = TestSupport.digits
        let pipeline = try! FeatureRecipe(scaling: .divide(16)).fit(train.features)
        let x = try! pipeline.transform(train.features)
        let y = Targets.classes(try! ClassEncoder(fitting: train.labels).encode(train.labels))
        var graph = try! ModelBuilder.build(.mlp(hidden: [128, 64]), inputShape: [64], outputs: 10, seed: 7)
        func snapshot(_ epochs: [EpochReport]) -> [UInt8] {
            let config = TrainingConfig(epochs: epochs.count, batchSize: 32, optimizer: .adam(learningRate: 2e-3), seed: 7)
            let metadata = ModelMetadata(
                name: "digits", architecture: "mlp:128,64", source: "train",
                training: TrainingSummary(config: config, samples: train.labels.count, epochs: epochs, test: nil, dataDigest: nil)
            )
            let model = Model(metadata: metadata, features: pipeline, graph: graph)
            return try! ModelFile.encode(try! Quantizer().quantize(model, calibrationFeeds: x))
        }
        func fit(_ epochs: Int) -> [EpochReport] {
            let config = TrainingConfig(epochs: epochs, batchSize: 32, optimizer: .adam(learningRate: 2e-3), seed: 7)
            // Wall-clock seconds would make the files differ from run to run.
            return try! Trainer(config: config).fit(&graph, feeds: x, targets: y).map {
                var r = $0; r.seconds = 0; return r
            }
        }
        let first = fit(30)
        let v1 = snapshot(first)
        let v2 = snapshot(first + fit(5))
        return (v1, v2)
    }()

    static func delta(_ model: [UInt8], base: [UInt8]) throws -> ModelPackage {
        try ModelPackage.create(
            model: model, options: ArtifactFixtures.options("1.1.0", chunkSize: 1024),
            base: PackageBase(name: "digits", version: SemanticVersion(1, 0, 0), model: base), key: ArtifactFixtures.hubKey)
    }

    @Test("a delta rebuilds v2 from v1 exactly, and is much smaller than the full package")
    func deltaRoundTripAndSize() throws {
        let (v1, v2) = Self.versions
        let full = try ModelPackage.create(
            model: v2, options: ArtifactFixtures.options("1.1.0", chunkSize: 1024), key: ArtifactFixtures.hubKey)
        let delta = try Self.delta(v2, base: v1)
        #expect(delta.manifest.delta?.sha256 == PackageDigest.sha256(v1))
        #expect(delta.manifest.parent == SemanticVersion(1, 0, 0))
        let verified = try PackageVerifier(trust: ArtifactFixtures.ring).verify(delta.encode(), base: v1)
        #expect(verified.modelBytes == v2)

        let prefixOnly = try Zstd.compress(v2, level: 3, prefix: v1)
        let fullLevel19 = try Zstd.compress(v2, level: 19)
        let ratio = Double(delta.payload.count) / Double(full.payload.count)
        print(
            String(
                format: "delta digits v1 (30 epochs) -> v2 (+5 epochs): model %d B, full payload %d B (level 19: %d B), "
                    + "delta zstd-prefix %d B, delta chosen (%@) %d B = %.1f %% of full; package files %d B vs %d B",
                v2.count, full.payload.count, fullLevel19.count, prefixOnly.count,
                delta.manifest.delta?.subtract == nil ? "prefix" : "prefix+subtract", delta.payload.count, ratio * 100,
                full.encode().count, delta.encode().count))
        #expect(delta.payload.count <= prefixOnly.count)
        #expect(ratio < 0.7, "the delta is clearly smaller than the full payload (58.7 % when measured)")
    }

    @Test("a delta against the wrong base, or without one, is refused")
    func wrongBase() throws {
        let (v1, v2) = Self.versions
        let delta = try Self.delta(v2, base: v1).encode()
        let verifier = PackageVerifier(trust: ArtifactFixtures.ring)
        #expect(ArtifactFixtures.code { _ = try verifier.verify(delta) } == .missingBase)
        #expect(ArtifactFixtures.code { _ = try verifier.verify(delta, base: v2) } == .wrongBase)
        #expect(ArtifactFixtures.code { _ = try verifier.verify(delta, base: ArtifactFixtures.smallModel) } == .wrongBase)
        var damaged = v1
        damaged[damaged.count / 2] ^= 1
        #expect(ArtifactFixtures.code { _ = try verifier.verify(delta, base: damaged) } == .wrongBase)
        #expect(try verifier.verify(Self.delta(v2, base: v1).encode(), base: v1).modelBytes == v2)
    }

    @Test("a signed delta whose subtraction range lies is refused: a wrong rebuild, or a range outside the models")
    func lyingSubtraction() throws {
        let (v1, v2) = Self.versions
        let delta = try Self.delta(v2, base: v1)
        let verifier = PackageVerifier(trust: ArtifactFixtures.ring)
        let subtract = try #require(delta.manifest.delta?.subtract)
        // In range (the creator leaves the 4-byte CRC out of it), so only the rebuilt digest can tell.
        let edits: [(String, (inout PackageManifest.DeltaSubtraction) -> Void)] = [
            ("offset + 1", { $0.offset += 1 }), ("base offset + 1", { $0.baseOffset += 1 }), ("length - 1", { $0.length -= 1 }),
        ]
        for (name, edit) in edits {
            let forged = try ArtifactFixtures.resign(delta) { edit(&$0.delta!.subtract!) }
            #expect(
                ArtifactFixtures.code { _ = try verifier.verify(forged.encode(), base: v1) } == .modelDigestMismatch, "\(name)")
        }
        let outside = try ArtifactFixtures.resign(delta) { $0.delta!.subtract!.offset = $0.model.size - subtract.length + 1 }
        #expect(ArtifactFixtures.code { _ = try verifier.verify(outside.encode(), base: v1) } == .malformedManifest)
        let dropped = try ArtifactFixtures.resign(delta) { $0.delta!.subtract = nil }
        #expect(ArtifactFixtures.code { _ = try verifier.verify(dropped.encode(), base: v1) } == .modelDigestMismatch)
    }

    @Test("a full package ignores a base; deltas between unrelated models still round-trip")
    func unrelatedBase() throws {
        let a = ArtifactFixtures.model(hidden: [32], seed: 1)
        let b = ArtifactFixtures.model(hidden: [48, 16], seed: 2)
        let delta = try Self.delta(b, base: a)
        #expect(try PackageVerifier(trust: ArtifactFixtures.ring).verify(delta.encode(), base: a).modelBytes == b)
        let full = try ArtifactFixtures.package().encode()
        #expect(try PackageVerifier(trust: ArtifactFixtures.ring).verify(full, base: b).modelBytes == ArtifactFixtures.smallModel)
    }
}
