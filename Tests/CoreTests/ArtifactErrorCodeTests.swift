import Foundation
import Testing

@testable import Core

/// Every `ArtifactError` code has an input that produces it, so a code no path can reach (or a
/// new code without a test) shows up here.
@Suite("Model package error codes", .serialized)
final class ArtifactErrorCodeTests {
    let dir = try! ArtifactFixtures.temporaryDirectory()

    deinit { try? FileManager.default.removeItem(atPath: dir) }

    @Test("every ArtifactError code is produced by an input of its own")
    func everyCode() throws {
        let package = try ArtifactFixtures.package()
        let bytes = package.encode()
        let plain = PackageVerifier(trust: ArtifactFixtures.ring)
        func verify(_ bytes: [UInt8], base: [UInt8]? = nil, with verifier: PackageVerifier? = nil) throws {
            _ = try (verifier ?? plain).verify(bytes, base: base)
        }
        var future = bytes
        future[8] = 2
        var flippedPayload = bytes
        flippedPayload[package.head.byteCount + 1] ^= 1
        var revocations = RevocationList()
        try revocations.revoke(ArtifactFixtures.hubKey.keyId)
        let revoking = PackageVerifier(trust: try TrustRing(keys: [ArtifactFixtures.hubKey.publicKey], revocations: revocations))
        let restricted = try ArtifactFixtures.resign(package) {
            $0.minAgentVersion = SemanticVersion(2, 0, 0)
            $0.profiles = ["pi4"]
        }.encode()
        func targeted(_ target: PackageTarget) -> PackageVerifier {
            PackageVerifier(trust: ArtifactFixtures.ring, target: target)
        }
        let delta = try ArtifactRefusalTests.delta().encode()
        let bomb = try ArtifactFixtures.forge(package, payload: try ArtifactFixtures.bomb(announced: true), modelSize: 1 << 20)
        let lying = try ArtifactFixtures.resign(package) { $0.model.sha256 = String(repeating: "0", count: 64) }
        let looseKey = dir + "/loose.key"
        try ArtifactFixtures.hubKey.write(to: looseKey)
        chmod(looseKey, 0o644)
        let chunks = Dictionary(try ArtifactRefusalTests.badChunks().map { ($0.2, $0.1) }, uniquingKeysWith: { a, _ in a })
        let head = ArtifactRefusalTests.package.head

        var scenarios: [(ArtifactError.Code, () throws -> Void)] = [
            (.notAPackage, { try verify(Array("plain text, not a package".utf8)) }),
            (.truncated, { try verify(Array(bytes.prefix(40))) }),
            (.corruptContainer, { try verify(bytes + [0]) }),
            (.unsupportedFormat, { try verify(future) }),
            (
                .tooLarge,
                { try verify(bytes, with: PackageVerifier(trust: ArtifactFixtures.ring, limits: .init(maxManifestBytes: 64))) }
            ),
            (.malformedManifest, { _ = try PackageManifest.parse(Array(#"{"format":1}"#.utf8)) }),
            (.unknownKey, { try verify(try ArtifactFixtures.package(key: ArtifactFixtures.strangerKey).encode()) }),
            (.revokedKey, { try verify(bytes, with: revoking) }),
            (.badSignature, { try verify(ArtifactFixtures.flipManifestDigit(bytes)) }),
            (.agentTooOld, { try verify(restricted, with: targeted(PackageTarget(agentVersion: SemanticVersion(1, 9, 9)))) }),
            (.incompatibleProfile, { try verify(restricted, with: targeted(PackageTarget(profile: "x86-gateway"))) }),
            (.payloadDigestMismatch, { try verify(flippedPayload) }),
            (.incomplete, { _ = try head.assemble([]) }),
            (.missingBase, { try verify(delta) }),
            (.wrongBase, { try verify(delta, base: ArtifactFixtures.smallModel) }),
            (.decompressionFailed, { _ = try Zstd.decompress([1, 2, 3], expectedSize: 10) }),
            (.decompressionBomb, { try verify(bomb.encode()) }),
            (.modelDigestMismatch, { try verify(lying.encode()) }),
            (
                .invalidModel,
                {
                    _ = try ModelPackage.create(
                        model: Array(repeating: 1, count: 100), options: ArtifactFixtures.options(), key: ArtifactFixtures.hubKey)
                }
            ),
            (.invalidKey, { _ = try SigningKey(name: "short", seed: [1, 2, 3]) }),
            (.insecureKeyFile, { _ = try SigningKey.read(path: looseKey) }),
            (
                .invalidArgument,
                {
                    _ = try ModelPackage.create(
                        model: ArtifactFixtures.smallModel, options: ArtifactFixtures.options(chunkSize: 10),
                        key: ArtifactFixtures.hubKey)
                }
            ),
            (.io, { _ = try SigningKey.read(path: self.dir + "/missing.key") }),
        ]
        for (code, chunk) in chunks { scenarios.append((code, { try head.check(chunk) })) }

        for (expected, body) in scenarios {
            let got = ArtifactFixtures.code(body)
            #expect(got == expected, "expected \(expected), got \(String(describing: got))")
        }
        let missing = Set(ArtifactError.Code.allCases).subtracting(scenarios.map(\.0))
        #expect(missing.isEmpty, "codes without a scenario: \(missing.map(\.rawValue).sorted())")
    }
}
