import Crypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An Ed25519 private key the hub signs packages with, named and identified by its key id.
///
/// Key file (JSON, mode 0600): `{"algorithm": "ed25519", "keyId": ..., "name": ...,
/// "privateKey": <32-byte seed, hex>}`. Reading refuses a file that other users can read.
public struct SigningKey: Sendable {
    /// Bytes of SHA-256 kept in a key id.
    public static let keyIdBytes = 8

    /// A name for people (e.g. `hub-2026-11`).
    public var name: String
    /// The private key.
    public let privateKey: Curve25519.Signing.PrivateKey

    /// A key from its 32-byte seed.
    public init(name: String, seed: [UInt8]) throws(ArtifactError) {
        do {
            privateKey = try Curve25519.Signing.PrivateKey(rawRepresentation: seed)
        } catch {
            throw ArtifactError(.invalidKey, "an Ed25519 private key is 32 bytes, not \(seed.count)", underlying: error)
        }
        self.name = name
    }

    /// A new random key.
    public static func generate(name: String) -> SigningKey {
        let key = Curve25519.Signing.PrivateKey()
        return try! SigningKey(name: name, seed: Array(key.rawRepresentation))
    }

    /// The key id: the first 8 bytes of SHA-256 of the raw public key, hex.
    public var keyId: String { Self.keyId(publicKey: Array(privateKey.publicKey.rawRepresentation)) }

    /// The public half, to put in trust rings.
    public var publicKey: TrustedKey {
        TrustedKey(name: name, publicKey: Array(privateKey.publicKey.rawRepresentation))
    }

    /// The key id of a raw 32-byte Ed25519 public key.
    public static func keyId(publicKey: [UInt8]) -> String {
        PackageDigest.hex(SHA256.hash(data: publicKey).prefix(keyIdBytes))
    }

    /// The 64-byte Ed25519 signature of `message`.
    public func sign(_ message: [UInt8]) throws(ArtifactError) -> [UInt8] {
        do {
            return Array(try privateKey.signature(for: message))
        } catch {
            throw ArtifactError(.invalidKey, "signing failed", underlying: error)
        }
    }

    // MARK: - Files

    private struct File: Codable {
        var algorithm: String
        var keyId: String
        var name: String
        var privateKey: String
    }

    /// Writes the key to `path` with mode 0600 (atomically; the file is never readable by others).
    public func write(to path: String) throws(ArtifactError) {
        do {
            try FileIO.writeAtomically(try fileBytes(), to: path, mode: 0o600)
        } catch {
            throw ArtifactError.io(error)
        }
    }

    /// The key file's bytes, as `write(to:)` writes them (secret: keep them mode 0600).
    public func fileBytes() throws(ModelError) -> [UInt8] {
        try KeyFiles.encode(
            File(algorithm: "ed25519", keyId: keyId, name: name, privateKey: PackageDigest.hex(privateKey.rawRepresentation)))
    }

    /// Reads a key file written by `write(to:)`, refusing one that group or others can access.
    public static func read(path: String) throws(ArtifactError) -> SigningKey {
        let mode: Int
        let bytes: [UInt8]
        do {
            mode = try FileIO.permissions(path)
            bytes = try FileIO.read(path)
        } catch {
            throw ArtifactError.io(error)
        }
        guard mode & 0o077 == 0 else {
            throw ArtifactError(
                .insecureKeyFile, "private key file '\(path)' has mode \(String(mode, radix: 8)); run chmod 600 on it")
        }
        let file: File = try KeyFiles.decode(bytes, what: "private key file '\(path)'")
        guard file.algorithm == "ed25519", let seed = PackageDigest.bytes(hex: file.privateKey), seed.count == 32 else {
            throw ArtifactError(.invalidKey, "private key file '\(path)' does not hold an ed25519 key (32 bytes, hex)")
        }
        let key = try SigningKey(name: file.name, seed: seed)
        guard key.keyId == file.keyId else {
            throw ArtifactError(.invalidKey, "private key file '\(path)' names key id \(file.keyId) but holds key \(key.keyId)")
        }
        return key
    }
}

/// JSON for key, trust ring and revocation files: sorted keys, indented, ending in a newline.
enum KeyFiles {
    static func encode<T: Encodable>(_ value: T) throws(ModelError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value)) + [UInt8(ascii: "\n")]
        } catch {
            throw ModelError(.io, "cannot encode a key file", underlying: error)
        }
    }

    static func decode<T: Decodable>(_ bytes: [UInt8], what: String) throws(ArtifactError) -> T {
        guard bytes.count <= 1 << 20 else { throw ArtifactError(.invalidKey, "\(what) is over 1 MiB") }
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw ArtifactError(.invalidKey, "\(what) is not valid", underlying: error)
        }
    }

    static func read<T: Decodable>(_ path: String, what: String) throws(ArtifactError) -> T {
        let bytes: [UInt8]
        do {
            bytes = try FileIO.read(path)
        } catch {
            throw ArtifactError.io(error)
        }
        return try decode(bytes, what: "\(what) '\(path)'")
    }
}
