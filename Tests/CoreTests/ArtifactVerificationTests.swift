import Foundation
import Testing

@testable import Core

/// The verification order and its refusals: each kind of damage or forgery ends in its own
/// error code, and no input crashes the verifier.
@Suite("Model package verification")
struct ArtifactVerificationTests {
    let verifier = PackageVerifier(trust: ArtifactFixtures.ring)

    func code(_ bytes: [UInt8], base: [UInt8]? = nil) -> ArtifactError.Code? {
        ArtifactFixtures.code { _ = try verifier.verify(bytes, base: base) }
    }

    @Test("one flipped payload byte is a payload digest mismatch")
    func flippedPayloadByte() throws {
        let package = try ArtifactFixtures.package()
        var bytes = package.encode()
        bytes[package.head.byteCount + package.payload.count / 2] ^= 0x10
        #expect(code(bytes) == .payloadDigestMismatch)
    }

    @Test("a flipped manifest byte that keeps the JSON valid is a bad signature")
    func flippedManifestByte() throws {
        let package = try ArtifactFixtures.package()
        var bytes = package.encode()
        let year = Array("2026-11-27".utf8)
        let start = (PackageHead.preambleBytes..<package.head.byteCount).first { Array(bytes[$0..<($0 + year.count)]) == year }!
        bytes[start + 3] = UInt8(ascii: "7")
        #expect(code(bytes) == .badSignature)
    }

    @Test("every single-bit flip in the head is refused, never crashes")
    func everyHeadBit() throws {
        let package = try ArtifactFixtures.package()
        let bytes = package.encode()
        var seen: [ArtifactError.Code: Int] = [:]
        for i in 0..<package.head.byteCount {
            var damaged = bytes
            damaged[i] ^= UInt8(1 << (i % 8))
            let result = code(damaged)
            #expect(result != nil, "flip at \(i) was accepted")
            seen[result ?? .io, default: 0] += 1
        }
        #expect(
            Set(seen.keys).isSuperset(of: [
                .notAPackage, .unsupportedFormat, .corruptContainer, .malformedManifest, .badSignature,
            ]))
    }

    @Test("an unknown signing key is refused")
    func unknownKey() throws {
        #expect(code(try ArtifactFixtures.package(key: ArtifactFixtures.strangerKey).encode()) == .unknownKey)
    }

    @Test("a revoked key is refused even though it is in the ring")
    func revokedKey() throws {
        var revocations = RevocationList()
        try revocations.revoke(ArtifactFixtures.hubKey.keyId, reason: "laptop stolen")
        let ring = try TrustRing(keys: [ArtifactFixtures.hubKey.publicKey], revocations: revocations)
        let bytes = try ArtifactFixtures.package().encode()
        let error = #expect(throws: ArtifactError.self) { try PackageVerifier(trust: ring).verify(bytes) }
        #expect(error?.code == .revokedKey)
        #expect(error?.message.contains("laptop stolen") == true)
    }

    @Test("rotation: with two trusted keys both verify; revoking the old one keeps the new one working")
    func rotation() throws {
        var ring = try TrustRing(keys: [ArtifactFixtures.hubKey.publicKey])
        try ring.add(ArtifactFixtures.nextKey.publicKey)
        let old = try ArtifactFixtures.package(key: ArtifactFixtures.hubKey).encode()
        let new = try ArtifactFixtures.package(key: ArtifactFixtures.nextKey, version: "1.1.0").encode()
        #expect(try PackageVerifier(trust: ring).verify(old).manifest.keyId == ArtifactFixtures.hubKey.keyId)
        #expect(try PackageVerifier(trust: ring).verify(new).manifest.keyId == ArtifactFixtures.nextKey.keyId)
        try ring.revocations.revoke(ArtifactFixtures.hubKey.keyId)
        #expect(ArtifactFixtures.code { _ = try PackageVerifier(trust: ring).verify(old) } == .revokedKey)
        #expect(try PackageVerifier(trust: ring).verify(new).manifest.version == SemanticVersion(1, 1, 0))
    }

    @Test("an unknown future format version is refused, in the preamble or in a signed manifest")
    func futureFormat() throws {
        let package = try ArtifactFixtures.package()
        var bytes = package.encode()
        bytes[8] = 2
        #expect(code(bytes) == .unsupportedFormat)
        let future = try ArtifactFixtures.resign(package) { $0.format = 2 }
        #expect(code(future.encode()) == .unsupportedFormat)
        let error = #expect(throws: ArtifactError.self) { try verifier.verify(future.encode()) }
        #expect(error?.message.contains("upgrade starling") == true)
    }

    @Test("truncated files are refused as truncated at every length; extra bytes as a corrupt container")
    func truncation() throws {
        let bytes = try ArtifactFixtures.package().encode()
        for length in 0..<bytes.count where length < 200 || length % 97 == 0 || length > bytes.count - 100 {
            #expect(code(Array(bytes.prefix(length))) == .truncated, "length \(length)")
        }
        #expect(code(bytes + [0]) == .corruptContainer)
        #expect(code(Array("not a package at all, just text".utf8)) == .notAPackage)
    }

    @Test("a decompression bomb signed by a trusted key is refused without allocating its size")
    func decompressionBomb() throws {
        let package = try ArtifactFixtures.package()
        let zeros = [UInt8](repeating: 0, count: 64 << 20)
        // 64 MiB declared as 1 MiB: announced in the frame header (refused before decoding), or
        // not (refused when the output passes the declared size; the buffer is 1 MiB + 1).
        for announced in [true, false] {
            let bomb = try Zstd.compress(zeros, level: 3, prefix: nil, writeContentSize: announced, windowLog: 20)
            #expect(bomb.count < 8 << 10, "64 MiB of zeros compress to a few KiB")
            #expect(
                code(try ArtifactFixtures.forge(package, payload: bomb, modelSize: 1 << 20).encode()) == .decompressionBomb,
                "announced: \(announced)")
        }
        // A frame whose window exceeds what the declared size can need is refused before the
        // decoder allocates the window.
        let wide = try Zstd.compress(zeros, level: 3, prefix: nil, writeContentSize: false, windowLog: 27)
        #expect(code(try ArtifactFixtures.forge(package, payload: wide, modelSize: 1000).encode()) == .decompressionFailed)
        let huge = try ArtifactFixtures.resign(package) { $0.model.size = 1 << 36 }
        #expect(code(huge.encode()) == .tooLarge, "a declared size over the limit is refused before decompression")
    }

    @Test("a trusted signer's lies about the model are caught: digest, size, invalid model")
    func lyingManifest() throws {
        let package = try ArtifactFixtures.package()
        let wrongDigest = try ArtifactFixtures.resign(package) { $0.model.sha256 = String(repeating: "0", count: 64) }
        #expect(code(wrongDigest.encode()) == .modelDigestMismatch)
        let shorter = try ArtifactFixtures.resign(package) { $0.model.size += 10 }
        #expect(code(shorter.encode()) == .decompressionFailed)
        let garbage = [UInt8](repeating: 7, count: 5000)
        var notAModel = try ArtifactFixtures.forge(package, payload: try Zstd.compress(garbage), modelSize: garbage.count)
        notAModel = try ArtifactFixtures.resign(notAModel) { $0.model.sha256 = PackageDigest.sha256(garbage) }
        #expect(code(notAModel.encode()) == .invalidModel)
    }

    @Test("size bounds come first: a small device's limits refuse a large package before parsing")
    func sizeBounds() throws {
        let bytes = try ArtifactFixtures.package().encode()
        let tiny = PackageVerifier(trust: ArtifactFixtures.ring, limits: ArtifactLimits(maxManifestBytes: 100))
        #expect(ArtifactFixtures.code { _ = try tiny.verify(bytes) } == .tooLarge)
        let small = PackageVerifier(trust: ArtifactFixtures.ring, limits: ArtifactLimits(maxModelBytes: 1000))
        #expect(ArtifactFixtures.code { _ = try small.verify(bytes) } == .tooLarge)
    }

    @Test("the head verifies alone, then the payload; a head with trailing bytes is refused")
    func headThenPayload() throws {
        let package = try ArtifactFixtures.package()
        let head = try verifier.verifyHead(package.head.encode())
        #expect(head == package.head)
        #expect(try verifier.verify(head: head, payload: package.payload).modelBytes == ArtifactFixtures.smallModel)
        #expect(ArtifactFixtures.code { _ = try verifier.verifyHead(package.head.encode() + [1]) } == .corruptContainer)
        let stranger = PackageVerifier(trust: try TrustRing(keys: [ArtifactFixtures.strangerKey.publicKey]))
        #expect(ArtifactFixtures.code { _ = try stranger.verify(head: head, payload: package.payload) } == .unknownKey)
    }

    @Test("random damage anywhere never crashes")
    func randomDamage() throws {
        let bytes = try ArtifactFixtures.package().encode()
        var random = RandomSource(seed: 11)
        for _ in 0..<300 {
            var damaged = bytes
            for _ in 0..<(1 + random.below(4)) {
                damaged[random.below(bytes.count)] = UInt8(truncatingIfNeeded: random.below(256))
            }
            if damaged != bytes { #expect(code(damaged) != nil) }
        }
    }
}
