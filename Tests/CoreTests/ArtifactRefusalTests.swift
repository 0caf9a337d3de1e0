import Foundation
import Testing

@testable import Core

/// The refusals issue 3 lists, each with its own error code, and nothing half-written kept:
/// a refused package yields no model, a refused chunk leaves no file in the chunk store.
@Suite("Model package refusals", .serialized)
final class ArtifactRefusalTests {
    let dir = try! ArtifactFixtures.temporaryDirectory()
    let verifier = PackageVerifier(trust: ArtifactFixtures.ring)

    deinit { try? FileManager.default.removeItem(atPath: dir) }

    /// A package in 1 KiB chunks (many of them).
    static let package = ArtifactChunkTests.package
    /// Two unrelated small models: a delta of `deltaNew` against `deltaBase`.
    static let deltaBase = ArtifactFixtures.model(hidden: [32], seed: 1)
    static let deltaNew = ArtifactFixtures.model(hidden: [48, 16], seed: 2)

    static func delta() throws -> ModelPackage {
        try ModelPackage.create(
            model: deltaNew, options: ArtifactFixtures.options("1.1.0", chunkSize: 1024),
            base: PackageBase(name: "digits", version: SemanticVersion(1, 0, 0), model: deltaBase), key: ArtifactFixtures.hubKey)
    }

    /// The chunk refusals: (what the issue calls it, the chunk, its code).
    static func badChunks() throws -> [(String, Chunk, ArtifactError.Code)] {
        let other = try ArtifactFixtures.package(version: "9.9.9", chunkSize: 1024)
        var wrongDigest = package.chunk(2)
        wrongDigest.bytes[100] ^= 1
        var truncated = package.chunk(2)
        truncated.bytes.removeLast(10)
        var oversized = package.chunk(2)
        oversized.bytes.append(0)
        var outOfRange = package.chunk(2)
        outOfRange.index = package.head.chunkCount
        return [
            ("a wrong chunk digest", wrongDigest, .chunkDigestMismatch),
            ("a truncated chunk", truncated, .chunkTruncated),
            ("a chunk from another package", other.chunk(0), .chunkFromOtherPackage),
            ("an oversized chunk", oversized, .chunkOversized),
            ("a chunk index past the end", outOfRange, .chunkIndexOutOfRange),
        ]
    }

    @Test("each refusal the issue lists ends in its own error code")
    func issueRefusals() throws {
        let package = Self.package
        let bytes = package.encode()
        var flippedPayload = bytes
        flippedPayload[package.head.byteCount + 7] ^= 0x01
        var revoked = RevocationList()
        try revoked.revoke(ArtifactFixtures.hubKey.keyId, reason: "rotated")
        let revokingRing = try TrustRing(keys: [ArtifactFixtures.hubKey.publicKey], revocations: revoked)
        let bomb = try ArtifactFixtures.forge(package, payload: try ArtifactFixtures.bomb(announced: false), modelSize: 1 << 20)
        let future = try ArtifactFixtures.resign(package) { $0.format = PackageManifest.currentFormat + 1 }
        let delta = try Self.delta().encode()

        var rows: [(String, ArtifactError.Code?, ArtifactError.Code)] = [
            ("one flipped payload byte", code(flippedPayload), .payloadDigestMismatch),
            ("a flipped manifest byte", code(ArtifactFixtures.flipManifestDigit(bytes)), .badSignature),
            (
                "an unknown signing key",
                code(try ArtifactFixtures.package(key: ArtifactFixtures.strangerKey).encode()), .unknownKey
            ),
            (
                "a revoked key",
                ArtifactFixtures.code { _ = try PackageVerifier(trust: revokingRing).verify(bytes) }, .revokedKey
            ),
            ("a decompression bomb", code(bomb.encode()), .decompressionBomb),
            ("a delta against the wrong base", code(delta, base: Self.deltaNew), .wrongBase),
            ("an unknown future format version", code(future.encode()), .unsupportedFormat),
        ]
        for (name, chunk, expected) in try Self.badChunks() where expected != .chunkIndexOutOfRange {
            rows.append((name, ArtifactFixtures.code { try package.head.check(chunk) }, expected))
        }
        for (name, got, expected) in rows {
            #expect(got == expected, "\(name): got \(String(describing: got))")
        }
        #expect(rows.count == 11)
        #expect(Set(rows.map(\.2)).count == rows.count, "every refusal has a code of its own")
        // The same package verifies when nothing is wrong, so the refusals are not a broken fixture.
        #expect(try verifier.verify(bytes).modelBytes.count == package.manifest.model.size)
        #expect(try verifier.verify(delta, base: Self.deltaBase).modelBytes == Self.deltaNew)
    }

    func code(_ bytes: [UInt8], base: [UInt8]? = nil) -> ArtifactError.Code? {
        ArtifactFixtures.code { _ = try verifier.verify(bytes, base: base) }
    }

    @Test("a refused chunk leaves no file in the chunk store, and the store still completes", arguments: [true, false])
    func refusedChunksWriteNothing(syncEachChunk: Bool) throws {
        let package = Self.package
        let path = dir + "/refusals-\(syncEachChunk)"
        let head = try verifier.verifyHead(package.head.encode())
        var store = try ChunkStore(directory: path, head: head, syncEachChunk: syncEachChunk)
        for (name, chunk, expected) in try Self.badChunks() {
            #expect(ArtifactFixtures.code { try store.receive(chunk) } == expected, "\(name)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: path + "/chunks").isEmpty, "\(name) left a file")
            #expect(store.received.isEmpty && store.missing.count == package.head.chunkCount, "\(name)")
        }
        // A refusal after good chunks arrived leaves exactly those.
        try store.receive(package.chunk(0))
        for (name, chunk, _) in try Self.badChunks() {
            _ = ArtifactFixtures.code { try store.receive(chunk) }
            #expect(try FileManager.default.contentsOfDirectory(atPath: path + "/chunks") == ["00000000"], "\(name)")
        }
        let reopened = try ChunkStore.resume(directory: path, verifier: verifier)
        #expect(reopened.received == [0] && reopened.discarded.isEmpty)
        for chunk in package.chunks() { try store.receive(chunk) }
        #expect(try verifier.verify(try store.assemble().encode()).manifest == package.manifest)
        try store.remove()
    }
}
