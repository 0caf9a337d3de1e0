/// The signed head of a package: preamble, canonical manifest and signature block. It is the
/// whole package file but the payload, small enough to send first (the transfer announces a
/// package with it, then the payload follows in chunks that the manifest pins).
///
/// Layout (integers little-endian):
///
///     offset      size  content
///     0           8     magic "STARLPKG"
///     8           2     format version (u16), equal to the manifest's `format`
///     10          2     flags (u16), zero
///     12          4     manifest length M (u32)
///     16          8     payload length P (u64), equal to the manifest's payload size
///     24          M     manifest: canonical JSON, UTF-8
///     24+M        8     signing key id (raw bytes), equal to the manifest's `keyId`
///     32+M        64    Ed25519 signature over the M manifest bytes
///     96+M        P     payload (the package file continues here)
///
/// Only the manifest is signed; every other head byte is fixed or must agree with it.
public struct PackageHead: Sendable, Equatable {
    /// The file magic.
    public static let magic = Array("STARLPKG".utf8)
    /// Bytes before the manifest.
    public static let preambleBytes = 24
    /// Bytes of key id plus signature after the manifest.
    public static let signatureBlockBytes = 72

    /// The exact signed manifest bytes.
    public let manifestBytes: [UInt8]
    /// The parsed manifest.
    public let manifest: PackageManifest
    /// The 64-byte Ed25519 signature over `manifestBytes`.
    public let signature: [UInt8]

    /// Signs `manifest` with `key`; the manifest's `keyId` must be the key's.
    public init(signing manifest: PackageManifest, with key: SigningKey) throws(ArtifactError) {
        guard manifest.keyId == key.keyId else {
            throw ArtifactError(.invalidArgument, "the manifest names key \(manifest.keyId) but is signed with key \(key.keyId)")
        }
        manifestBytes = manifest.canonicalBytes()
        self.manifest = manifest
        signature = try key.sign(manifestBytes)
    }

    private init(manifestBytes: [UInt8], manifest: PackageManifest, signature: [UInt8]) {
        self.manifestBytes = manifestBytes
        self.manifest = manifest
        self.signature = signature
    }

    /// The package id: SHA-256 of the signed manifest bytes, hex. Chunks carry it.
    public var id: String { PackageDigest.sha256(manifestBytes) }

    /// Size of the encoded head in bytes.
    public var byteCount: Int { Self.preambleBytes + manifestBytes.count + Self.signatureBlockBytes }

    /// The head bytes (the package file up to its payload).
    public func encode() -> [UInt8] {
        var out = Self.magic
        out.reserveCapacity(byteCount)
        // Clamped: a manifest built in code may hold any Int; such a head simply fails to parse.
        out.appendLittleEndian(UInt16(clamping: manifest.format))
        out.appendLittleEndian(UInt16(0))
        out.appendLittleEndian(UInt32(clamping: manifestBytes.count))
        out.appendLittleEndian(UInt64(clamping: manifest.payload.size))
        out.append(contentsOf: manifestBytes)
        out.append(contentsOf: PackageDigest.bytes(hex: manifest.keyId) ?? [UInt8](repeating: 0, count: SigningKey.keyIdBytes))
        out.append(contentsOf: signature)
        return out
    }

    /// The lengths in a preamble, checked against `limits` before anything is parsed:
    /// (manifest length, payload length).
    static func readPreamble(_ bytes: [UInt8], limits: ArtifactLimits) throws(ArtifactError) -> (manifest: Int, payload: Int) {
        let prefix = min(bytes.count, magic.count)
        guard Array(bytes[0..<prefix]) == Array(magic[0..<prefix]) else {
            throw ArtifactError(.notAPackage, "not a Starling model package (missing the STARLPKG signature)")
        }
        guard bytes.count >= preambleBytes else {
            throw ArtifactError(
                .truncated, "the package is truncated: \(bytes.count) bytes, shorter than its \(preambleBytes)-byte preamble")
        }
        let version = Int(bytes.readLittleEndian(UInt16.self, at: 8))
        guard version <= PackageManifest.currentFormat else {
            throw ArtifactError(
                .unsupportedFormat,
                "package format \(version) is newer than this reader supports (\(PackageManifest.currentFormat)); upgrade starling"
            )
        }
        guard version >= 1, bytes.readLittleEndian(UInt16.self, at: 10) == 0 else {
            throw ArtifactError(.corruptContainer, "the package preamble is corrupt (format 0 or reserved flags set)")
        }
        let manifest = Int(bytes.readLittleEndian(UInt32.self, at: 12))
        let payload = bytes.readLittleEndian(UInt64.self, at: 16)
        guard manifest <= limits.maxManifestBytes else {
            throw ArtifactError(.tooLarge, "the manifest has \(manifest) bytes, over the limit of \(limits.maxManifestBytes)")
        }
        guard payload <= UInt64(limits.maxPayloadBytes) else {
            throw ArtifactError(.tooLarge, "the payload has \(payload) bytes, over the limit of \(limits.maxPayloadBytes)")
        }
        guard manifest >= 2 else { throw ArtifactError(.corruptContainer, "the package preamble declares an empty manifest") }
        return (manifest, Int(payload))
    }

    /// Parses a head from the start of `bytes` (a head alone, or a whole package file): size
    /// bounds, then the manifest. Does not check the signature (`PackageVerifier` does).
    public static func parse(_ bytes: [UInt8], limits: ArtifactLimits = .standard) throws(ArtifactError) -> PackageHead {
        let lengths = try readPreamble(bytes, limits: limits)
        let end = preambleBytes + lengths.manifest + signatureBlockBytes
        guard bytes.count >= end else {
            throw ArtifactError(.truncated, "the package is truncated: \(bytes.count) bytes, its head needs \(end)")
        }
        let manifestBytes = Array(bytes[preambleBytes..<(preambleBytes + lengths.manifest)])
        let manifest = try PackageManifest.parse(manifestBytes, limits: limits)
        guard manifest.format == Int(bytes.readLittleEndian(UInt16.self, at: 8)) else {
            throw ArtifactError(.corruptContainer, "the preamble's format version differs from the manifest's")
        }
        guard manifest.payload.size == lengths.payload else {
            throw ArtifactError(
                .corruptContainer,
                "the preamble's payload length \(lengths.payload) differs from the manifest's \(manifest.payload.size)")
        }
        let keyStart = preambleBytes + lengths.manifest
        let keyId = PackageDigest.hex(bytes[keyStart..<(keyStart + SigningKey.keyIdBytes)])
        guard keyId == manifest.keyId else {
            throw ArtifactError(
                .corruptContainer, "the signature block's key id \(keyId) differs from the manifest's \(manifest.keyId)")
        }
        let signature = Array(bytes[(keyStart + SigningKey.keyIdBytes)..<end])
        return PackageHead(manifestBytes: manifestBytes, manifest: manifest, signature: signature)
    }

    /// Checks the signature against `trust` (`revokedKey`, `unknownKey`, `badSignature`).
    public func verifySignature(trust: TrustRing) throws(ArtifactError) {
        try trust.verify(signature: signature, keyId: manifest.keyId, message: manifestBytes)
    }
}
