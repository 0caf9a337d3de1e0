import Foundation
import Testing

@testable import Core

/// The package's byte format: canonical JSON, semantic versions, the manifest and head layout.
@Suite("Model package format")
struct ArtifactFormatTests {
    /// A manifest with every field set, from fixed values (no compression involved, so a zstd
    /// upgrade cannot change it).
    static let goldenManifest = PackageManifest(
        format: 1, name: "digits", version: SemanticVersion("1.2.0-rc.1+build.7")!, parent: SemanticVersion("1.1.0")!,
        createdAt: "2026-11-27T00:00:00Z", keyId: ArtifactFixtures.hubKey.keyId, minAgentVersion: SemanticVersion("0.1.0")!,
        profiles: ["pi4-arm64", "x86-gateway"],
        payload: .init(
            compression: "zstd", size: 5000, sha256: String(repeating: "ab", count: 32), chunkSize: 4096,
            chunks: [String(repeating: "01", count: 32), String(repeating: "02", count: 32)]),
        model: .init(size: 12345, sha256: String(repeating: "cd", count: 32)),
        delta: .init(
            name: "digits", version: SemanticVersion("1.1.0")!, size: 12000, sha256: String(repeating: "ef", count: 32),
            subtract: .init(offset: 1024, baseOffset: 960, length: 11000)))

    @Test("canonical JSON: sorted keys, no whitespace, integers, minimal escapes")
    func canonicalJSON() {
        let value = CanonicalJSON.object([
            "b": .array([.int(-3), .int(0), .bool(true), .null]), "a": .string("q\"\\/\n\t\u{1}é"), "B": .object([:]),
        ])
        #expect(String(decoding: value.bytes, as: UTF8.self) == #"{"B":{},"a":"q\"\\/\n\t\u0001é","b":[-3,0,true,null]}"#)
    }

    @Test("the manifest encoding matches the golden file, and so does the signed head")
    func golden() throws {
        let manifest = Self.goldenManifest
        try manifest.validate()
        try Golden.check(manifest.canonicalBytes(), "package-manifest-v1.json")
        let head = try PackageHead(signing: manifest, with: ArtifactFixtures.hubKey)
        let hex = PackageDigest.hex(head.encode())
        let lines = stride(from: 0, to: hex.count, by: 64).map { i in
            String(hex[hex.index(hex.startIndex, offsetBy: i)..<hex.index(hex.startIndex, offsetBy: min(hex.count, i + 64))])
        }
        try Golden.check(Array((lines.joined(separator: "\n") + "\n").utf8), "package-head-v1.hex")
    }

    @Test("a parsed manifest re-encodes to the identical bytes")
    func reencode() throws {
        let bytes = Self.goldenManifest.canonicalBytes()
        let parsed = try PackageManifest.parse(bytes)
        #expect(parsed == Self.goldenManifest)
        #expect(parsed.canonicalBytes() == bytes)
        let real = try ArtifactFixtures.package().manifest
        #expect(try PackageManifest.parse(real.canonicalBytes()).canonicalBytes() == real.canonicalBytes())
    }

    @Test(
        "any non-canonical spelling of a manifest is refused",
        arguments: [
            ("whitespace", ",", ", "),
            ("key order", #""name":"digits","parent":"1.1.0""#, #""parent":"1.1.0","name":"digits""#),
            ("fraction", #""format":1"#, #""format":1.0"#),
            ("duplicate key", #""format":1"#, #""format":1,"format":1"#),
            ("unknown field", #""format":1"#, #""extra":1,"format":1"#),
            ("escaped letter", "digits", #"dig\u0069ts"#),
            ("null field", #""format":1"#, #""format":1,"minAgentVersion":null"#),
        ])
    func nonCanonical(name: String, from: String, to: String) {
        let text = String(decoding: Self.goldenManifest.canonicalBytes(), as: UTF8.self)
        let edited = text.replacingOccurrences(of: from, with: to)
        #expect(edited != text, "\(name): the edit applies")
        #expect(ArtifactFixtures.code { _ = try PackageManifest.parse(Array(edited.utf8)) } == .malformedManifest, "\(name)")
    }

    @Test("invalid fields are refused: name, version, time, key id, chunk geometry, delta range")
    func invalidFields() {
        let cases: [(String, (inout PackageManifest) -> Void, ArtifactError.Code)] = [
            ("name with slash", { $0.name = "a/b" }, .malformedManifest),
            ("time", { $0.createdAt = "2026-13-01T00:00:00Z" }, .malformedManifest),
            ("key id", { $0.keyId = "XYZ" }, .malformedManifest),
            ("profiles unsorted", { $0.profiles = ["b", "a"] }, .malformedManifest),
            ("chunk count", { $0.payload.chunks.removeLast() }, .malformedManifest),
            ("tiny chunks", { $0.payload.chunkSize = 16 }, .malformedManifest),
            ("compression", { $0.payload.compression = "lz4" }, .malformedManifest),
            ("delta range", { $0.delta!.subtract!.length = 20000 }, .malformedManifest),
            ("huge model", { $0.model.size = 1 << 40 }, .tooLarge),
            ("future format", { $0.format = 2 }, .unsupportedFormat),
        ]
        for (name, edit, code) in cases {
            var manifest = Self.goldenManifest
            edit(&manifest)
            #expect(ArtifactFixtures.code { _ = try PackageManifest.parse(manifest.canonicalBytes()) } == code, "\(name)")
        }
    }

    @Test("semantic versions parse, print and order as semver.org says")
    func semanticVersions() {
        let ordered = [
            "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
            "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "2.0.0", "10.0.0",
        ]
        let versions = ordered.map { SemanticVersion($0)! }
        #expect(versions.map(\.description) == ordered)
        for i in versions.indices.dropLast() { #expect(versions[i] < versions[i + 1], "\(ordered[i]) < \(ordered[i + 1])") }
        #expect(SemanticVersion("1.0.0+a")!.hasSamePrecedence(as: SemanticVersion("1.0.0+b")!))
        for bad in [
            "", "1", "1.0", "1.0.0.0", "01.0.0", "1.0.0-", "1.0.0-01", "1.0.0+", "1.0.0-a..b", "v1.0.0", "1.0.0 ", "-1.0.0",
            "1.0.0-ä", "99999999999999999999.0.0",
        ] {
            #expect(SemanticVersion(bad) == nil, "'\(bad)' is not a version")
        }
    }

    @Test("timestamps are RFC 3339 UTC")
    func timestamps() {
        #expect(PackageManifest.timestamp(secondsSince1970: 0) == "1970-01-01T00:00:00Z")
        #expect(PackageManifest.timestamp(secondsSince1970: 1_795_737_600) == "2026-11-27T00:00:00Z")
        #expect(PackageManifest.timestamp(secondsSince1970: 951_782_400) == "2000-02-29T00:00:00Z")
        #expect(PackageManifest.isValidTimestamp("2026-11-27T05:06:07Z"))
        #expect(!PackageManifest.isValidTimestamp("2026-11-27 05:06:07Z"))
    }

    @Test("a package survives encode, parse and verify; its head is the file up to the payload")
    func roundTrip() throws {
        let package = try ArtifactFixtures.package()
        let bytes = package.encode()
        #expect(Array(bytes.prefix(8)) == Array("STARLPKG".utf8))
        #expect(try ModelPackage.parse(bytes) == package)
        #expect(Array(bytes.prefix(package.head.byteCount)) == package.head.encode())
        let verified = try PackageVerifier(trust: ArtifactFixtures.ring).verify(bytes)
        #expect(verified.modelBytes == ArtifactFixtures.smallModel)
        #expect(verified.manifest.name == "digits" && verified.manifest.version == SemanticVersion(1, 0, 0))
        #expect(verified.model == (try ModelFile.decode(ArtifactFixtures.smallModel)))
        #expect(try ArtifactFixtures.package().encode() == bytes, "packaging is deterministic")
    }

    @Test("the default chunk size is 256 KiB, and the last chunk holds the rest")
    func defaultChunkSize() throws {
        let options = PackageOptions(name: "digits", version: SemanticVersion(1, 0, 0), createdAt: ArtifactFixtures.createdAt)
        #expect(options.chunkSize == 256 * 1024)
        let package = try ModelPackage.create(model: ArtifactFixtures.smallModel, options: options, key: ArtifactFixtures.hubKey)
        #expect(package.manifest.payload.chunkSize == 262_144)
        #expect(package.manifest.payload.chunks == [PackageDigest.sha256(package.payload)], "a small payload is one chunk")
        #expect(package.head.chunkRange(0) == 0..<package.payload.count)
    }

    @Test("packaging is deterministic but for the creation time, which only changes the manifest and signature")
    func deterministicButTime() throws {
        let first = try ArtifactFixtures.package()
        let second = try ArtifactFixtures.package()
        #expect(first.encode() == second.encode())
        var later = ArtifactFixtures.options()
        later.createdAt = "2027-01-02T03:04:05Z"
        let other = try ModelPackage.create(model: ArtifactFixtures.smallModel, options: later, key: ArtifactFixtures.hubKey)
        #expect(other.payload == first.payload)
        var manifest = other.manifest
        manifest.createdAt = first.manifest.createdAt
        #expect(manifest == first.manifest, "nothing but createdAt differs in the manifest")
        #expect(other.head.signature != first.head.signature)
    }

    @Test("zstd: round trip, exact size, and refusals of corrupt or short frames")
    func zstd() throws {
        let data = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 7 / 13) }
        let packed = try Zstd.compress(data, level: 3)
        #expect(packed.count < data.count / 4)
        #expect(try Zstd.decompress(packed, expectedSize: data.count) == data)
        #expect(ArtifactFixtures.code { _ = try Zstd.decompress(packed, expectedSize: data.count + 1) } == .decompressionFailed)
        #expect(ArtifactFixtures.code { _ = try Zstd.decompress(packed, expectedSize: data.count - 1) } == .decompressionBomb)
        #expect(
            ArtifactFixtures.code { _ = try Zstd.decompress(Array(packed.dropLast(3)), expectedSize: data.count) }
                == .decompressionFailed)
        #expect(ArtifactFixtures.code { _ = try Zstd.decompress(packed + [0], expectedSize: data.count) } == .decompressionFailed)
        #expect(ArtifactFixtures.code { _ = try Zstd.decompress([1, 2, 3], expectedSize: 10) } == .decompressionFailed)
    }
}
