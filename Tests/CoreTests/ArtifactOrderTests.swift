import Foundation
import Testing

@testable import Core

/// The verification order (size bounds, manifest, signature, target, payload digest, base,
/// decompression, model digest, model validation): when several things are wrong at once, the
/// earliest step names the failure, so nothing is trusted before the step that vouches for it.
/// Also the device target checks, and a scenario for every `ArtifactError` code.
@Suite("Model package verification order")
struct ArtifactOrderTests {
    let verifier = PackageVerifier(trust: ArtifactFixtures.ring)

    func code(_ bytes: [UInt8], base: [UInt8]? = nil, verifier: PackageVerifier? = nil) -> ArtifactError.Code? {
        ArtifactFixtures.code { _ = try (verifier ?? self.verifier).verify(bytes, base: base) }
    }

    /// `bytes` with the byte at `offset` xor-ed with `mask`.
    func flip(_ bytes: [UInt8], at offset: Int, _ mask: UInt8 = 1) -> [UInt8] {
        var out = bytes
        out[offset] ^= mask
        return out
    }

    @Test("when several things are wrong, the earliest step names the failure")
    func earliestStepWins() throws {
        let package = try ArtifactFixtures.package()
        let payloadAt = package.head.byteCount
        let stranger = try ArtifactFixtures.package(key: ArtifactFixtures.strangerKey).encode()
        let strangerPayloadAt = try ModelPackage.parse(stranger).head.byteCount
        var revocations = RevocationList()
        try revocations.revoke(ArtifactFixtures.hubKey.keyId)
        let revoking = PackageVerifier(trust: try TrustRing(keys: [ArtifactFixtures.hubKey.publicKey], revocations: revocations))
        let tiny = PackageVerifier(trust: ArtifactFixtures.ring, limits: ArtifactLimits(maxManifestBytes: 100))
        let bomb = try ArtifactFixtures.forge(package, payload: try ArtifactFixtures.bomb(announced: true), modelSize: 1 << 20)
        let needsNewAgent = try ArtifactFixtures.resign(package) { $0.minAgentVersion = SemanticVersion(9, 0, 0) }
        let oldAgent = PackageVerifier(
            trust: ArtifactFixtures.ring, target: PackageTarget(agentVersion: SemanticVersion(0, 1, 0)))
        let delta = try ArtifactRefusalTests.delta()
        let deltaBomb = try ArtifactFixtures.forge(delta, payload: try ArtifactFixtures.bomb(announced: true), modelSize: 1 << 20)
        let garbage = [UInt8](repeating: 7, count: 5000)
        let lyingGarbage = try ArtifactFixtures.forge(package, payload: try Zstd.compress(garbage), modelSize: garbage.count)

        let cases: [(String, ArtifactError.Code?, ArtifactError.Code)] = [
            ("size bound before manifest parse", code(flip(package.encode(), at: 24, 0x20), verifier: tiny), .tooLarge),
            ("framing before signature", code(Array(stranger.dropLast())), .truncated),
            ("format before signature", code(flip(stranger, at: 8, 0x02)), .unsupportedFormat),
            ("manifest parse before signature", code(flip(stranger, at: 24, 0x20)), .malformedManifest),
            ("unknown key before payload digest", code(flip(stranger, at: strangerPayloadAt + 3)), .unknownKey),
            (
                "revoked key before payload digest", code(flip(package.encode(), at: payloadAt + 3), verifier: revoking),
                .revokedKey
            ),
            (
                "signature before payload digest",
                code(flip(ArtifactFixtures.flipManifestDigit(package.encode()), at: payloadAt + 3)), .badSignature
            ),
            (
                "target before payload digest",
                code(flip(needsNewAgent.encode(), at: needsNewAgent.head.byteCount + 3), verifier: oldAgent),
                .agentTooOld
            ),
            (
                "payload digest before decompression", code(flip(bomb.encode(), at: bomb.head.byteCount + 5)),
                .payloadDigestMismatch
            ),
            ("missing base before decompression", code(deltaBomb.encode()), .missingBase),
            ("wrong base before decompression", code(deltaBomb.encode(), base: ArtifactRefusalTests.deltaNew), .wrongBase),
            ("model digest before model validation", code(lyingGarbage.encode()), .modelDigestMismatch),
        ]
        for (name, got, expected) in cases {
            #expect(got == expected, "\(name): got \(String(describing: got))")
        }
        // Each later failure alone, so the cases above really combine two faults.
        #expect(code(bomb.encode()) == .decompressionBomb)
        #expect(code(deltaBomb.encode(), base: ArtifactRefusalTests.deltaBase) == .decompressionBomb)
        #expect(code(flip(package.encode(), at: payloadAt + 3)) == .payloadDigestMismatch)
        #expect(code(needsNewAgent.encode(), verifier: oldAgent) == .agentTooOld)
    }

    @Test("a package needing a newer agent, or built for other firmware profiles, is refused by name")
    func deviceTarget() throws {
        let package = try ArtifactFixtures.resign(try ArtifactFixtures.package()) {
            $0.minAgentVersion = SemanticVersion("0.3.0")!
            $0.profiles = ["pi4", "x86-gateway"]
        }
        let bytes = package.encode()
        func verify(_ agent: String?, _ profile: String?) -> ArtifactError.Code? {
            let target = PackageTarget(agentVersion: agent.flatMap(SemanticVersion.init), profile: profile)
            return ArtifactFixtures.code { _ = try PackageVerifier(trust: ArtifactFixtures.ring, target: target).verify(bytes) }
        }
        #expect(verify("0.2.9", "pi4") == .agentTooOld)
        #expect(verify("0.3.0-rc.1", "pi4") == .agentTooOld, "a pre-release precedes its release")
        #expect(verify("0.3.0", "jetson-nano") == .incompatibleProfile)
        #expect(verify("0.3.0", "pi4") == nil)
        #expect(verify("1.0.0", "x86-gateway") == nil)
        #expect(verify(nil, nil) == nil, "an empty target checks nothing")
        #expect(code(bytes) == nil, "no target checks nothing")

        let old = PackageTarget(agentVersion: SemanticVersion(0, 2, 0), profile: "pi4")
        let error = #expect(throws: ArtifactError.self) {
            try PackageVerifier(trust: ArtifactFixtures.ring, target: old).verifyHead(package.head.encode())
        }
        #expect(error?.code == .agentTooOld, "refused from the head alone, before any chunk is fetched")
        #expect(error?.message.contains("0.3.0") == true && error?.message.contains("0.2.0") == true)
        let elsewhere = #expect(throws: ArtifactError.self) {
            try package.manifest.checkCompatibility(with: PackageTarget(profile: "jetson-nano"))
        }
        #expect(elsewhere?.message.contains("pi4, x86-gateway") == true && elsewhere?.message.contains("jetson-nano") == true)

        // No restriction in the manifest: any agent, any profile.
        let open = try ArtifactFixtures.package()
        try open.manifest.checkCompatibility(with: PackageTarget(agentVersion: SemanticVersion(0, 0, 1), profile: "anything"))
    }
}
