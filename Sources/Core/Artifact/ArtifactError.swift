/// Everything that can go wrong creating, reading, verifying, chunking or storing a model package.
///
/// Every malformed, truncated, forged or hostile input ends in one of these, never in a crash.
/// The code is stable for scripts and tests; the message says what to do.
public struct ArtifactError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is, in the order verification meets them.
    public enum Code: String, Sendable, CaseIterable {
        /// The bytes do not start with the package magic.
        case notAPackage
        /// The file ends before the lengths in its preamble say it should.
        case truncated
        /// The container framing is inconsistent: trailing bytes, reserved flags set, or preamble
        /// fields that disagree with the signed manifest.
        case corruptContainer
        /// The package (or manifest) format version is newer than this reader.
        case unsupportedFormat
        /// A size is over the reader's limits (file, manifest, payload, uncompressed model).
        case tooLarge
        /// The manifest is not valid canonical JSON of the known schema, or a field is invalid.
        case malformedManifest
        /// The signing key id is not in the trust ring.
        case unknownKey
        /// The signing key id is on the revocation list.
        case revokedKey
        /// The Ed25519 signature does not verify over the manifest bytes.
        case badSignature
        /// The package needs a newer agent than the target device runs (`PackageTarget`).
        case agentTooOld
        /// The package is built for firmware profiles that exclude the target device's (`PackageTarget`).
        case incompatibleProfile
        /// The payload's SHA-256 or size differs from the manifest.
        case payloadDigestMismatch
        /// A chunk belongs to a different package.
        case chunkFromOtherPackage
        /// A chunk index is outside the package's chunk list.
        case chunkIndexOutOfRange
        /// A chunk is shorter than the manifest says.
        case chunkTruncated
        /// A chunk is longer than the manifest says.
        case chunkOversized
        /// A chunk's SHA-256 differs from the manifest.
        case chunkDigestMismatch
        /// Chunks are still missing.
        case incomplete
        /// The package is a delta and no base model was given.
        case missingBase
        /// The base model given for a delta is not the one the delta was made against.
        case wrongBase
        /// The zstd payload is corrupt, truncated, has trailing data, or needs too much memory.
        case decompressionFailed
        /// Decompression produced more bytes than the manifest declared.
        case decompressionBomb
        /// The decompressed (or delta-rebuilt) model's SHA-256 or size differs from the manifest.
        case modelDigestMismatch
        /// The payload is not a valid model file.
        case invalidModel
        /// A key, trust ring or revocation list file is malformed.
        case invalidKey
        /// A private key file is readable by other users.
        case insecureKeyFile
        /// An argument to package creation is invalid (name, version, chunk size, ...).
        case invalidArgument
        /// A file could not be read or written.
        case io
    }

    /// The kind of failure.
    public var code: Code
    /// A sentence a person can act on.
    public var message: String
    /// The error that caused this one, if any.
    public var underlying: (any Error & Sendable)?

    /// An error of `code` with an actionable `message`.
    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// An `io` error wrapping a file error.
    static func io(_ error: ModelError) -> ArtifactError {
        ArtifactError(.io, error.message, underlying: error)
    }

    /// The message, with the underlying error if any, on one line (tools print it as one).
    public var description: String {
        let text = underlying.map { "\(message) (\($0))" } ?? message
        return String(text.map { $0.isNewline ? " " : $0 })
    }
}

/// Upper bounds a reader enforces before it allocates, so hostile input cannot exhaust memory.
///
/// Devices set them from their firmware profile; the defaults suit a gateway.
public struct ArtifactLimits: Sendable, Equatable {
    /// Largest manifest accepted, in bytes.
    public var maxManifestBytes: Int
    /// Largest compressed payload accepted, in bytes.
    public var maxPayloadBytes: Int
    /// Largest uncompressed model accepted (the manifest's declared size must be under it).
    public var maxModelBytes: Int
    /// Smallest chunk size a manifest may declare.
    public var minChunkBytes: Int
    /// Largest chunk size a manifest may declare.
    public var maxChunkBytes: Int
    /// Largest zstd window (log2 bytes) the decoder will allocate.
    public var maxWindowLog: Int

    /// Limits with the given bounds.
    public init(
        maxManifestBytes: Int = 1 << 20, maxPayloadBytes: Int = 1 << 30, maxModelBytes: Int = 1 << 30,
        minChunkBytes: Int = 1 << 10, maxChunkBytes: Int = 16 << 20, maxWindowLog: Int = 30
    ) {
        self.maxManifestBytes = maxManifestBytes
        self.maxPayloadBytes = maxPayloadBytes
        self.maxModelBytes = maxModelBytes
        self.minChunkBytes = minChunkBytes
        self.maxChunkBytes = maxChunkBytes
        self.maxWindowLog = maxWindowLog
    }

    /// The default limits.
    public static let standard = ArtifactLimits()

    /// The largest whole package file these limits allow.
    public var maxPackageBytes: Int {
        PackageHead.preambleBytes + maxManifestBytes + PackageHead.signatureBlockBytes + maxPayloadBytes
    }
}
