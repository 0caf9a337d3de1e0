#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The signed statement about a model package: what it is, what it needs, and the digests that
/// pin every byte of its payload. Serialised as canonical JSON (`CanonicalJSON`); the Ed25519
/// signature covers exactly those bytes.
///
/// A reader accepts only the canonical encoding of this schema: re-encoding a parsed manifest
/// must give the same bytes, so there is one byte string per manifest (no whitespace, key-order,
/// duplicate-key or number-format variants). Any schema change bumps `format`.
public struct PackageManifest: Sendable, Equatable, Codable {
    /// The manifest and container format this build writes and reads.
    public static let currentFormat = 1

    /// Package format version (`currentFormat`).
    public var format: Int
    /// Model name: 1 to 64 of `A-Z a-z 0-9 . _ -`, not starting with `.` or `-`.
    public var name: String
    /// The model's semantic version.
    public var version: SemanticVersion
    /// The version this one was derived from, if any (lineage; a delta's base is usually it).
    public var parent: SemanticVersion?
    /// Creation time, RFC 3339 UTC (`2026-11-27T05:00:00Z`).
    public var createdAt: String
    /// Id of the signing key (`SigningKey.keyId`).
    public var keyId: String
    /// The oldest agent that can run this package, if restricted.
    public var minAgentVersion: SemanticVersion?
    /// Firmware profiles the model is built for, sorted; empty means any.
    public var profiles: [String]
    /// The bytes as transferred: the zstd frame, its digest and its chunks.
    public var payload: Payload
    /// The model file the payload decompresses (or rebuilds) to.
    public var model: Content
    /// The base version, if the payload is a delta against it.
    public var delta: DeltaBase?

    /// The compressed payload, exactly as stored after the signature and sent in chunks.
    public struct Payload: Sendable, Equatable, Codable {
        /// Compression scheme; `zstd` (a delta uses the base model as zstd prefix).
        public var compression: String
        /// Payload size in bytes.
        public var size: Int
        /// SHA-256 of the payload, lower-case hex.
        public var sha256: String
        /// Chunk size in bytes; every chunk but the last has this size.
        public var chunkSize: Int
        /// SHA-256 of each chunk of the payload, in order.
        public var chunks: [String]
    }

    /// A model file's size and digest.
    public struct Content: Sendable, Equatable, Codable {
        /// Size in bytes (the uncompressed size).
        public var size: Int
        /// SHA-256, lower-case hex.
        public var sha256: String
    }

    /// The version a delta payload was computed against.
    public struct DeltaBase: Sendable, Equatable, Codable {
        /// Base model name.
        public var name: String
        /// Base version.
        public var version: SemanticVersion
        /// Size of the base model file.
        public var size: Int
        /// SHA-256 of the base model file: the receiver's base must match it.
        public var sha256: String
        /// A byte range that was stored as the difference from the base (see `DeltaSubtraction`).
        public var subtract: DeltaSubtraction?
    }

    /// After decompression, `length` bytes at `offset` are added (mod 256) to the base bytes at
    /// `baseOffset`. The creator chooses the tensor data of both model files, where retraining
    /// changes most int8 weights by a small amount: their differences compress far better.
    public struct DeltaSubtraction: Sendable, Equatable, Codable {
        /// Start in the rebuilt model.
        public var offset: Int
        /// Start in the base model.
        public var baseOffset: Int
        /// Number of bytes.
        public var length: Int
    }

    /// Number of chunks for `size` payload bytes in `chunkSize` chunks.
    public static func chunkCount(size: Int, chunkSize: Int) -> Int {
        chunkSize > 0 ? (size + chunkSize - 1) / chunkSize : 0
    }

    /// True when `name` is a valid model or profile name.
    public static func isValidName(_ name: String) -> Bool {
        let utf8 = Array(name.utf8)
        guard (1...64).contains(utf8.count), utf8[0] != UInt8(ascii: "."), utf8[0] != UInt8(ascii: "-") else { return false }
        return utf8.allSatisfy { c in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 46 || c == 95 || c == 45
        }
    }

    // MARK: - Canonical encoding

    /// The canonical JSON bytes that are signed.
    public func canonicalBytes() -> [UInt8] { json.bytes }

    var json: CanonicalJSON {
        var members: [String: CanonicalJSON] = [
            "format": .int(format), "name": .string(name), "version": .string(version.description),
            "createdAt": .string(createdAt), "keyId": .string(keyId), "profiles": .array(profiles.map { .string($0) }),
            "payload": .object([
                "compression": .string(payload.compression), "size": .int(payload.size), "sha256": .string(payload.sha256),
                "chunkSize": .int(payload.chunkSize), "chunks": .array(payload.chunks.map { .string($0) }),
            ]),
            "model": .object(["size": .int(model.size), "sha256": .string(model.sha256)]),
        ]
        if let parent { members["parent"] = .string(parent.description) }
        if let minAgentVersion { members["minAgentVersion"] = .string(minAgentVersion.description) }
        if let delta {
            var base: [String: CanonicalJSON] = [
                "name": .string(delta.name), "version": .string(delta.version.description), "size": .int(delta.size),
                "sha256": .string(delta.sha256),
            ]
            if let s = delta.subtract {
                base["subtract"] = .object(["offset": .int(s.offset), "baseOffset": .int(s.baseOffset), "length": .int(s.length)])
            }
            members["delta"] = .object(base)
        }
        return .object(members)
    }

    // MARK: - Parsing

    private struct FormatProbe: Decodable { var format: Int }

    /// Parses signed manifest bytes: a newer `format` is `unsupportedFormat`, anything but the
    /// canonical encoding of a valid manifest is `malformedManifest`, sizes over `limits` are `tooLarge`.
    public static func parse(_ bytes: [UInt8], limits: ArtifactLimits = .standard) throws(ArtifactError) -> PackageManifest {
        guard bytes.count <= limits.maxManifestBytes else {
            throw ArtifactError(.tooLarge, "the manifest has \(bytes.count) bytes, over the limit of \(limits.maxManifestBytes)")
        }
        let data = Data(bytes)
        let decoder = JSONDecoder()
        let probe: FormatProbe
        do {
            probe = try decoder.decode(FormatProbe.self, from: data)
        } catch {
            throw ArtifactError(
                .malformedManifest, "the package manifest is not valid JSON with a format version", underlying: error)
        }
        guard probe.format <= currentFormat else {
            throw ArtifactError(
                .unsupportedFormat,
                "package format \(probe.format) is newer than this reader supports (\(currentFormat)); upgrade starling")
        }
        let manifest: PackageManifest
        do {
            manifest = try decoder.decode(PackageManifest.self, from: data)
        } catch {
            throw ArtifactError(
                .malformedManifest, "the package manifest does not match format \(currentFormat)", underlying: error)
        }
        guard manifest.canonicalBytes() == bytes else {
            throw ArtifactError(
                .malformedManifest, "the package manifest is not in canonical form (re-encoding changes its bytes)")
        }
        try manifest.validate(limits: limits)
        return manifest
    }
}
