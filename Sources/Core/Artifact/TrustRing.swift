import Crypto

/// A public key that devices trust to sign packages. Public key file (JSON): `{"algorithm":
/// "ed25519", "keyId": ..., "name": ..., "publicKey": <32 bytes, hex>}`.
public struct TrustedKey: Sendable, Equatable, Codable {
    /// Always `ed25519`.
    public var algorithm: String
    /// The key id (first 8 bytes of SHA-256 of the public key, hex).
    public var keyId: String
    /// A name for people.
    public var name: String
    /// The raw 32-byte public key, hex.
    public var publicKey: String

    /// The entry for raw public key bytes.
    public init(name: String, publicKey: [UInt8]) {
        algorithm = "ed25519"
        keyId = SigningKey.keyId(publicKey: publicKey)
        self.name = name
        self.publicKey = PackageDigest.hex(publicKey)
    }

    /// The verifying key, after checking the algorithm, the length and that the id matches the key.
    public func verifyingKey() throws(ArtifactError) -> Curve25519.Signing.PublicKey {
        guard algorithm == "ed25519", let raw = PackageDigest.bytes(hex: publicKey), raw.count == 32 else {
            throw ArtifactError(.invalidKey, "trusted key '\(name)' is not an ed25519 public key (32 bytes, hex)")
        }
        guard SigningKey.keyId(publicKey: raw) == keyId else {
            throw ArtifactError(
                .invalidKey, "trusted key '\(name)' claims key id \(keyId) but its key has id \(SigningKey.keyId(publicKey: raw))"
            )
        }
        do {
            return try Curve25519.Signing.PublicKey(rawRepresentation: raw)
        } catch {
            throw ArtifactError(.invalidKey, "trusted key '\(name)' is not a valid ed25519 public key", underlying: error)
        }
    }

    /// Writes the public key file to `path`.
    public func write(to path: String) throws(ArtifactError) {
        do {
            try FileIO.writeAtomically(try KeyFiles.encode(self), to: path)
        } catch {
            throw ArtifactError.io(error)
        }
    }
}

/// The keys a device accepts package signatures from, and the key ids it refuses even so.
///
/// Rotation: add the new key to every device's ring, start signing with it, later revoke the
/// old one. Trust ring file (JSON): `{"keys": [TrustedKey...]}`; a single public key file is
/// read as a ring of one.
public struct TrustRing: Sendable, Equatable {
    /// Trusted public keys.
    public var keys: [TrustedKey]
    /// Revoked key ids, refused even when in `keys`.
    public var revocations: RevocationList

    /// A ring of `keys` with `revocations`; every key is checked.
    public init(keys: [TrustedKey], revocations: RevocationList = RevocationList()) throws(ArtifactError) {
        for key in keys { _ = try key.verifyingKey() }
        self.keys = keys
        self.revocations = revocations
    }

    /// Checks that `signature` by `keyId` is valid over `message`: a revoked id is `revokedKey`,
    /// an id not in the ring `unknownKey`, a signature that does not verify `badSignature`.
    public func verify(signature: [UInt8], keyId: String, message: [UInt8]) throws(ArtifactError) {
        if let revocation = revocations.entry(for: keyId) {
            throw ArtifactError(
                .revokedKey,
                "the package is signed by key \(keyId), which is revoked" + (revocation.reason.map { " (\($0))" } ?? ""))
        }
        guard let trusted = keys.first(where: { $0.keyId == keyId }) else {
            throw ArtifactError(
                .unknownKey,
                "the package is signed by key \(keyId), which is not in the trust ring; add its public key to trust it")
        }
        guard try trusted.verifyingKey().isValidSignature(signature, for: message) else {
            throw ArtifactError(
                .badSignature,
                "the package signature does not verify with key \(keyId) ('\(trusted.name)'): the manifest was altered")
        }
    }

    /// Adds `key` unless a key with its id is already there.
    public mutating func add(_ key: TrustedKey) throws(ArtifactError) {
        _ = try key.verifyingKey()
        if !keys.contains(where: { $0.keyId == key.keyId }) { keys.append(key) }
    }

    // MARK: - Files

    private struct File: Codable { var keys: [TrustedKey] }
    private struct PrivateKeyProbe: Decodable { var privateKey: String }

    /// Reads a trust ring file (or a single public key file), with an optional revocation list.
    public static func read(path: String, revocations: RevocationList = RevocationList()) throws(ArtifactError) -> TrustRing {
        let keys: [TrustedKey]
        if let file: File = try? KeyFiles.read(path, what: "trust ring") {
            keys = file.keys
        } else if let key: TrustedKey = try? KeyFiles.read(path, what: "public key file") {
            keys = [key]
        } else if (try? KeyFiles.read(path, what: "private key file") as PrivateKeyProbe) != nil {
            // A common slip: handing the private key where the public half belongs. Say so, and never echo it.
            throw ArtifactError(
                .invalidKey, "'\(path)' is a private key file; give a trust ring or a public key (.pub) file instead")
        } else {
            keys = [try KeyFiles.read(path, what: "trust ring or public key file") as TrustedKey]
        }
        return try TrustRing(keys: keys, revocations: revocations)
    }

    /// Writes the keys (not the revocations) as a trust ring file.
    public func write(to path: String) throws(ArtifactError) {
        do {
            try FileIO.writeAtomically(try KeyFiles.encode(File(keys: keys)), to: path)
        } catch {
            throw ArtifactError.io(error)
        }
    }
}

/// Key ids that must no longer be trusted. File (JSON): `{"revoked": [{"keyId": ..., "reason": ...}]}`.
public struct RevocationList: Sendable, Equatable, Codable {
    /// One revoked key.
    public struct Entry: Sendable, Equatable, Codable {
        /// The revoked key id.
        public var keyId: String
        /// Why, for people.
        public var reason: String?

        /// A revocation of `keyId`.
        public init(keyId: String, reason: String? = nil) {
            self.keyId = keyId
            self.reason = reason
        }
    }

    /// The revoked keys.
    public var revoked: [Entry]

    /// A list of `revoked` keys.
    public init(revoked: [Entry] = []) { self.revoked = revoked }

    /// The entry revoking `keyId`, if any.
    public func entry(for keyId: String) -> Entry? { revoked.first { $0.keyId == keyId } }

    /// Revokes `keyId` (once).
    public mutating func revoke(_ keyId: String, reason: String? = nil) throws(ArtifactError) {
        guard PackageDigest.isHex(keyId, bytes: SigningKey.keyIdBytes) else {
            throw ArtifactError(.invalidKey, "'\(keyId)' is not a key id (16 hex digits)")
        }
        if entry(for: keyId) == nil { revoked.append(Entry(keyId: keyId, reason: reason)) }
    }

    /// Reads a revocation list file.
    public static func read(path: String) throws(ArtifactError) -> RevocationList {
        try KeyFiles.read(path, what: "revocation list")
    }

    /// Writes the list to `path`.
    public func write(to path: String) throws(ArtifactError) {
        do {
            try FileIO.writeAtomically(try KeyFiles.encode(self), to: path)
        } catch {
            throw ArtifactError.io(error)
        }
    }
}
