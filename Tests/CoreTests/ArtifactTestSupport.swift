import Foundation
import Testing

@testable import Core

/// Models, keys and helpers shared by the model package tests.
enum ArtifactFixtures {
    /// A fixed creation time, so packages are reproducible.
    static let createdAt = "2026-11-27T00:00:00Z"

    /// A signing key from a fixed seed (Ed25519 signatures are deterministic).
    static let hubKey = try! SigningKey(name: "hub-2026", seed: Array(1...32))
    /// A second trusted key (rotation).
    static let nextKey = try! SigningKey(name: "hub-2027", seed: Array(33...64))
    /// A key nobody trusts.
    static let strangerKey = try! SigningKey(name: "stranger", seed: Array(65...96))

    /// A ring trusting `hubKey` only.
    static var ring: TrustRing { try! TrustRing(keys: [hubKey.publicKey]) }

    /// A small int8 MLP (dynamic quantization), as model file bytes.
    static let smallModel: [UInt8] = model(hidden: [32], seed: 3)

    /// Model file bytes of an untrained int8 MLP on 64 inputs and 10 outputs.
    static func model(hidden: [Int], seed: UInt64, name: String = "digits") -> [UInt8] {
        let graph = try! ModelBuilder.build(.mlp(hidden: hidden), inputShape: [64], outputs: 10, seed: seed)
        let model = Model(metadata: ModelMetadata(name: name), features: nil, graph: graph)
        return try! ModelFile.encode(try! Quantizer().quantize(model))
    }

    /// Options for `digits` at `version`.
    static func options(_ version: String = "1.0.0", chunkSize: Int = 4096) -> PackageOptions {
        PackageOptions(name: "digits", version: SemanticVersion(version)!, createdAt: createdAt, chunkSize: chunkSize)
    }

    /// A package of `smallModel` signed by `key`.
    static func package(key: SigningKey = hubKey, version: String = "1.0.0", chunkSize: Int = 4096) throws -> ModelPackage {
        try ModelPackage.create(model: smallModel, options: options(version, chunkSize: chunkSize), key: key)
    }

    /// Re-signs a package after `edit` changed its manifest (a trusted signer producing a hostile package).
    static func resign(
        _ package: ModelPackage, payload: [UInt8]? = nil, key: SigningKey = hubKey,
        _ edit: (inout PackageManifest) -> Void
    ) throws -> ModelPackage {
        var manifest = package.manifest
        edit(&manifest)
        return ModelPackage(head: try PackageHead(signing: manifest, with: key), payload: payload ?? package.payload)
    }

    /// `package` re-signed with `payload` (its size, digest and chunk digests updated) and a
    /// manifest that declares `modelSize` uncompressed bytes: a trusted signer's hostile package.
    static func forge(_ package: ModelPackage, payload: [UInt8], modelSize: Int) throws -> ModelPackage {
        try resign(package, payload: payload) { manifest in
            let chunkSize = manifest.payload.chunkSize
            manifest.payload.size = payload.count
            manifest.payload.sha256 = PackageDigest.sha256(payload)
            manifest.payload.chunks = stride(from: 0, to: payload.count, by: chunkSize).map {
                PackageDigest.sha256(payload[$0..<min(payload.count, $0 + chunkSize)])
            }
            manifest.model.size = modelSize
        }
    }

    /// A zstd frame of 64 MiB of zeros (a few KiB), announcing its size in the header or not.
    static func bomb(announced: Bool) throws -> [UInt8] {
        try Zstd.compress(
            [UInt8](repeating: 0, count: 64 << 20), level: 3, prefix: nil, writeContentSize: announced, windowLog: 20)
    }

    /// `bytes` with one byte of the createdAt digits changed: still valid canonical JSON, so only
    /// the signature can tell.
    static func flipManifestDigit(_ bytes: [UInt8]) -> [UInt8] {
        var out = bytes
        let year = Array("\"createdAt\":\"2026".utf8)
        guard let start = (0...(out.count - year.count)).first(where: { Array(out[$0..<($0 + year.count)]) == year }) else {
            return out
        }
        out[start + year.count - 1] = UInt8(ascii: "7")
        return out
    }

    /// The error code a throwing call ends with (nil if it did not throw an `ArtifactError`).
    static func code(_ body: () throws -> Void) -> ArtifactError.Code? {
        do {
            try body()
            return nil
        } catch let error as ArtifactError {
            return error.code
        } catch {
            return nil
        }
    }

    /// A fresh temporary directory.
    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "starling-artifact-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// The committed golden files of wire formats (`Tests/Golden`).
enum Golden {
    static let directory: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<2 { url.deleteLastPathComponent() }
        return url.path + "/Golden"
    }()

    /// Compares `bytes` with the golden file `name`; with STARLING_UPDATE_GOLDEN=1 it rewrites it.
    static func check(_ bytes: [UInt8], _ name: String) throws {
        let path = directory + "/" + name
        if ProcessInfo.processInfo.environment["STARLING_UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
        let golden = FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
        #expect(
            golden == String(decoding: bytes, as: UTF8.self),
            "\(name) changed: a format change must be deliberate (STARLING_UPDATE_GOLDEN=1 rewrites it)")
    }
}
