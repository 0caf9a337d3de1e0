import Crypto
import Foundation
import Testing

@testable import Core

/// Signing keys, trust rings and revocation lists, and their files.
@Suite("Model package keys", .serialized)
final class ArtifactKeyTests {
    let dir = try! ArtifactFixtures.temporaryDirectory()

    deinit { try? FileManager.default.removeItem(atPath: dir) }

    @Test("a key id is the first 8 bytes of SHA-256 of the raw public key, in hex")
    func keyId() {
        let key = ArtifactFixtures.hubKey
        let raw = Array(key.privateKey.publicKey.rawRepresentation)
        #expect(key.keyId == PackageDigest.hex(Array(SHA256.hash(data: raw)).prefix(8)))
        #expect(key.keyId.count == 16)
        #expect(key.publicKey.keyId == key.keyId)
        #expect(SigningKey.generate(name: "a").keyId != SigningKey.generate(name: "b").keyId)
    }

    @Test("a private key file is written with mode 0600 and reads back the same key")
    func privateKeyFile() throws {
        let path = dir + "/hub.key"
        let key = SigningKey.generate(name: "hub")
        try key.write(to: path)
        #expect(try FileIO.permissions(path) == 0o600)
        let read = try SigningKey.read(path: path)
        #expect(read.keyId == key.keyId && read.name == "hub")
        let message: [UInt8] = Array("manifest".utf8)
        try TrustRing(keys: [key.publicKey]).verify(signature: read.sign(message), keyId: key.keyId, message: message)
    }

    @Test("a private key file readable by others is refused; so are malformed key files")
    func badKeyFiles() throws {
        let path = dir + "/loose.key"
        try ArtifactFixtures.hubKey.write(to: path)
        chmod(path, 0o644)
        #expect(ArtifactFixtures.code { _ = try SigningKey.read(path: path) } == .insecureKeyFile)

        let cases: [(String, String)] = [
            ("not json", "hello"),
            ("wrong algorithm", #"{"algorithm":"rsa","keyId":"0011223344556677","name":"x","privateKey":"00"}"#),
            ("short seed", #"{"algorithm":"ed25519","keyId":"0011223344556677","name":"x","privateKey":"0011"}"#),
            (
                "id does not match",
                #"{"algorithm":"ed25519","keyId":"0011223344556677","name":"x","privateKey":"\#(String(repeating: "01", count: 32))"}"#
            ),
        ]
        for (name, text) in cases {
            let file = dir + "/bad.key"
            _ = FileManager.default.createFile(atPath: file, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
            #expect(ArtifactFixtures.code { _ = try SigningKey.read(path: file) } == .invalidKey, "\(name)")
        }
        #expect(ArtifactFixtures.code { _ = try SigningKey.read(path: self.dir + "/missing.key") } == .io)
    }

    @Test("trust ring and revocation files round-trip; a public key file reads as a ring of one")
    func ringFiles() throws {
        var ring = try TrustRing(keys: [ArtifactFixtures.hubKey.publicKey])
        try ring.add(ArtifactFixtures.nextKey.publicKey)
        try ring.add(ArtifactFixtures.nextKey.publicKey)
        #expect(ring.keys.count == 2)
        try ring.write(to: dir + "/trust.json")
        var revocations = RevocationList()
        try revocations.revoke(ArtifactFixtures.hubKey.keyId, reason: "rotated")
        try revocations.revoke(ArtifactFixtures.hubKey.keyId)
        #expect(revocations.revoked.count == 1)
        try revocations.write(to: dir + "/revoked.json")

        let read = try TrustRing.read(
            path: dir + "/trust.json", revocations: try RevocationList.read(path: dir + "/revoked.json"))
        #expect(read.keys == ring.keys)
        #expect(read.revocations.entry(for: ArtifactFixtures.hubKey.keyId)?.reason == "rotated")

        try ArtifactFixtures.nextKey.publicKey.write(to: dir + "/next.pub")
        #expect(try TrustRing.read(path: dir + "/next.pub").keys == [ArtifactFixtures.nextKey.publicKey])
        #expect(ArtifactFixtures.code { try revocations.revoke("not-an-id") } == .invalidKey)
    }

    @Test("a private key file given as a trust ring is refused by name, without echoing the key")
    func privateKeyAsRing() throws {
        let path = dir + "/hub-as-ring.key"
        try ArtifactFixtures.hubKey.write(to: path)
        let error = #expect(throws: ArtifactError.self) { try TrustRing.read(path: path) }
        #expect(error?.code == .invalidKey)
        #expect(error?.message.contains("is a private key file") == true)
        let seed = PackageDigest.hex(ArtifactFixtures.hubKey.privateKey.rawRepresentation)
        #expect(error.map { !"\($0)".contains(seed) } == true, "the secret never appears in an error")
    }

    @Test("a ring entry whose key id does not match its key is refused")
    func mislabelledRingEntry() throws {
        var entry = ArtifactFixtures.hubKey.publicKey
        entry.keyId = ArtifactFixtures.nextKey.keyId
        #expect(ArtifactFixtures.code { _ = try TrustRing(keys: [entry]) } == .invalidKey)
        var short = ArtifactFixtures.hubKey.publicKey
        short.publicKey = "abcd"
        #expect(ArtifactFixtures.code { _ = try TrustRing(keys: [short]) } == .invalidKey)
        let file = dir + "/mislabelled.json"
        _ = FileManager.default.createFile(
            atPath: file, contents: try JSONEncoder().encode(["keys": [entry]]), attributes: nil)
        #expect(ArtifactFixtures.code { _ = try TrustRing.read(path: file) } == .invalidKey)
    }

    @Test("signing with a key that is not the manifest's is refused")
    func signerMustMatchManifest() throws {
        var manifest = try ArtifactFixtures.package().manifest
        manifest.keyId = ArtifactFixtures.nextKey.keyId
        #expect(
            ArtifactFixtures.code { _ = try PackageHead(signing: manifest, with: ArtifactFixtures.hubKey) } == .invalidArgument)
    }
}
