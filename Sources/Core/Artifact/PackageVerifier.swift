/// A package that passed every check, with its model file bytes and the decoded model.
public struct VerifiedPackage: Sendable {
    /// The signed head.
    public var head: PackageHead
    /// The model file bytes (decompressed, and rebuilt from the base if a delta).
    public var modelBytes: [UInt8]
    /// The decoded, validated model.
    public var model: Model

    /// The signed manifest.
    public var manifest: PackageManifest { head.manifest }
}

/// Verifies packages on a device, in a fixed order that never trusts a byte before the previous
/// step vouched for it:
///
/// 1. size bounds (file, manifest, payload, declared uncompressed size: `tooLarge`, `truncated`);
/// 2. manifest parse (`notAPackage`, `unsupportedFormat`, `malformedManifest`, `corruptContainer`);
/// 3. signature: known, unrevoked key (`unknownKey`, `revokedKey`, `badSignature`), then, if
///    a `target` is set, compatibility with that device (`agentTooOld`, `incompatibleProfile`);
/// 4. payload SHA-256 (`payloadDigestMismatch`);
/// 5. for a delta, the base's SHA-256 (`missingBase`, `wrongBase`);
/// 6. bounded decompression (`decompressionFailed`, `decompressionBomb`);
/// 7. model SHA-256 (`modelDigestMismatch`), then model validation (`invalidModel`).
public struct PackageVerifier: Sendable {
    /// The keys to trust and the revoked ones.
    public var trust: TrustRing
    /// Size bounds.
    public var limits: ArtifactLimits
    /// The device the package must suit (agent version, firmware profile); nil skips that check.
    public var target: PackageTarget?

    /// A verifier trusting `trust` within `limits`, for the device `target` (if any).
    public init(trust: TrustRing, limits: ArtifactLimits = .standard, target: PackageTarget? = nil) {
        self.trust = trust
        self.limits = limits
        self.target = target
    }

    /// Steps 1-3 (with the target check) on a head alone: the first thing a transfer receives,
    /// before any chunk.
    public func verifyHead(_ bytes: [UInt8]) throws(ArtifactError) -> PackageHead {
        let headLimit = PackageHead.preambleBytes + limits.maxManifestBytes + PackageHead.signatureBlockBytes
        guard bytes.count <= headLimit else {
            throw ArtifactError(.tooLarge, "the package head has \(bytes.count) bytes, over the limit of \(headLimit)")
        }
        let head = try PackageHead.parse(bytes, limits: limits)
        guard head.byteCount == bytes.count else {
            throw ArtifactError(
                .corruptContainer, "the package head has \(bytes.count - head.byteCount) unexpected trailing bytes")
        }
        try head.verifySignature(trust: trust)
        if let target { try head.manifest.checkCompatibility(with: target) }
        return head
    }

    /// Every step on a whole package file. `base` is the model file a delta was made against
    /// (the receiver's current model); it is ignored for a full package.
    public func verify(_ bytes: [UInt8], base: [UInt8]? = nil) throws(ArtifactError) -> VerifiedPackage {
        let package = try ModelPackage.parse(bytes, limits: limits)
        return try verify(head: package.head, payload: package.payload, base: base)
    }

    /// Steps 3-7 for a head and its payload (e.g. assembled from chunks). The signature is
    /// checked again, so a head that did not come from `verifyHead` is safe too.
    public func verify(head: PackageHead, payload: [UInt8], base: [UInt8]? = nil) throws(ArtifactError) -> VerifiedPackage {
        let model = try unpack(head: head, payload: payload, base: base)
        return VerifiedPackage(head: head, modelBytes: model, model: try Self.decodeModel(model))
    }

    /// Every step but the model validation, on a whole package file: the returned model file
    /// bytes are authentic and intact but not yet decoded (`decodeModel` is the last step).
    public func unpack(_ bytes: [UInt8], base: [UInt8]? = nil) throws(ArtifactError) -> (head: PackageHead, model: [UInt8]) {
        let package = try ModelPackage.parse(bytes, limits: limits)
        return (package.head, try unpack(head: package.head, payload: package.payload, base: base))
    }

    /// Steps 3-7 but the model validation, for a head and its payload.
    public func unpack(head: PackageHead, payload: [UInt8], base: [UInt8]? = nil) throws(ArtifactError) -> [UInt8] {
        try head.manifest.validate(limits: limits)
        try head.verifySignature(trust: trust)
        if let target { try head.manifest.checkCompatibility(with: target) }
        return try ModelPackage(head: head, payload: payload).unpack(base: base, limits: limits)
    }

    /// The last step: decodes and validates model file bytes (`invalidModel`).
    public static func decodeModel(_ bytes: [UInt8]) throws(ArtifactError) -> Model {
        do {
            return try ModelFile.decode(bytes)
        } catch {
            throw ArtifactError(.invalidModel, "the package's model file is not valid: \(error.message)", underlying: error)
        }
    }

    /// Reads and verifies the package file at `path` (size checked before reading).
    public func verify(path: String, base: [UInt8]? = nil) throws(ArtifactError) -> VerifiedPackage {
        try verify(try ModelPackage.readFile(path: path, limits: limits), base: base)
    }
}

extension ModelPackage {
    /// Steps 4-7 but the model validation, without the signature: payload digest, base digest,
    /// bounded decompression, delta rebuild and model digest. For tools that handle their own
    /// files (e.g. packaging against a base); devices use `PackageVerifier`.
    public func unpack(base: [UInt8]? = nil, limits: ArtifactLimits = .standard) throws(ArtifactError) -> [UInt8] {
        try manifest.validate(limits: limits)
        try head.checkPayload(payload)
        var prefix: [UInt8]?
        if let delta = manifest.delta {
            guard let base else {
                throw ArtifactError(
                    .missingBase, "the package is a delta against \(delta.name) \(delta.version); give that model as the base")
            }
            guard base.count == delta.size, PackageDigest.sha256(base) == delta.sha256 else {
                throw ArtifactError(
                    .wrongBase,
                    "the package is a delta against \(delta.name) \(delta.version) (SHA-256 \(delta.sha256.prefix(16))...), "
                        + "and the base given is a different model; install that version first or fetch the full package")
            }
            prefix = base
        }
        var model = try Zstd.decompress(
            payload, expectedSize: manifest.model.size, prefix: prefix, maxWindowLog: limits.maxWindowLog)
        if let subtract = manifest.delta?.subtract, let prefix { subtract.apply(to: &model, base: prefix, sign: 1) }
        guard PackageDigest.sha256(model) == manifest.model.sha256 else {
            throw ArtifactError(
                .modelDigestMismatch,
                manifest.delta == nil
                    ? "the decompressed model does not match its SHA-256 in the manifest"
                    : "the model rebuilt from the delta does not match its SHA-256 in the manifest")
        }
        return model
    }
}
