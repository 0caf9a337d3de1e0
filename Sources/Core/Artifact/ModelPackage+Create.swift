/// What to put in a new package's manifest besides the model itself.
public struct PackageOptions: Sendable {
    /// Model name (see `PackageManifest.isValidName`).
    public var name: String
    /// The version being packaged.
    public var version: SemanticVersion
    /// The version it derives from; defaults to the delta base's version.
    public var parent: SemanticVersion?
    /// Creation time, RFC 3339 UTC (`PackageManifest.timestamp(secondsSince1970:)`).
    public var createdAt: String
    /// Chunk size for transfer, in bytes.
    public var chunkSize: Int
    /// Compatible firmware profiles (empty: any).
    public var profiles: [String]
    /// The oldest agent that may run it.
    public var minAgentVersion: SemanticVersion?
    /// zstd level (1...19; higher is smaller and slower to create, not to read).
    public var compressionLevel: Int

    /// Options with the default chunk size (256 KiB) and zstd level 3.
    public init(
        name: String, version: SemanticVersion, createdAt: String, parent: SemanticVersion? = nil, chunkSize: Int = 256 << 10,
        profiles: [String] = [], minAgentVersion: SemanticVersion? = nil, compressionLevel: Int = 3
    ) {
        self.name = name
        self.version = version
        self.createdAt = createdAt
        self.parent = parent
        self.chunkSize = chunkSize
        self.profiles = profiles
        self.minAgentVersion = minAgentVersion
        self.compressionLevel = compressionLevel
    }
}

/// The model a delta is computed against: the receiver must hold exactly these bytes.
public struct PackageBase: Sendable {
    /// Its name.
    public var name: String
    /// Its version.
    public var version: SemanticVersion
    /// Its model file bytes (uncompressed).
    public var model: [UInt8]

    /// A base.
    public init(name: String, version: SemanticVersion, model: [UInt8]) {
        self.name = name
        self.version = version
        self.model = model
    }
}

extension ModelPackage {
    /// Packages model file bytes: validates the model, compresses it (as a delta against `base`
    /// when given), computes digests and chunk digests, and signs the manifest with `key`.
    public static func create(
        model: [UInt8], options: PackageOptions, base: PackageBase? = nil, key: SigningKey, limits: ArtifactLimits = .standard
    ) throws(ArtifactError) -> ModelPackage {
        func invalid(_ why: String) -> ArtifactError { ArtifactError(.invalidArgument, why) }
        guard PackageManifest.isValidName(options.name) else {
            throw invalid("name '\(options.name)' must be 1-64 of A-Z a-z 0-9 . _ -")
        }
        if let bad = options.profiles.first(where: { !PackageManifest.isValidName($0) }) {
            throw invalid("firmware profile '\(bad)' must be 1-64 of A-Z a-z 0-9 . _ -")
        }
        guard (limits.minChunkBytes...limits.maxChunkBytes).contains(options.chunkSize) else {
            throw invalid(
                "chunk size \(options.chunkSize) must be within \(limits.minChunkBytes)...\(limits.maxChunkBytes) bytes")
        }
        guard PackageManifest.isValidTimestamp(options.createdAt) else {
            throw invalid("creation time '\(options.createdAt)' is not RFC 3339 UTC")
        }
        guard (1...19).contains(options.compressionLevel) else {
            throw invalid("zstd level \(options.compressionLevel) must be within 1...19")
        }
        guard model.count <= limits.maxModelBytes else {
            throw ArtifactError(.tooLarge, "the model has \(model.count) bytes, over the limit of \(limits.maxModelBytes)")
        }
        do {
            _ = try ModelFile.decode(model)
        } catch {
            throw ArtifactError(.invalidModel, "the model file is not valid: \(error.message)", underlying: error)
        }

        var delta: PackageManifest.DeltaBase?
        let payload: [UInt8]
        if let base {
            guard PackageManifest.isValidName(base.name) else { throw invalid("base name '\(base.name)' is invalid") }
            guard (try? ModelFile.decode(base.model)) != nil else { throw invalid("the delta base is not a valid model file") }
            let encoded = try deltaPayload(model, base: base.model, level: options.compressionLevel)
            payload = encoded.payload
            delta = .init(
                name: base.name, version: base.version, size: base.model.count, sha256: PackageDigest.sha256(base.model),
                subtract: encoded.subtract)
        } else {
            payload = try Zstd.compress(model, level: options.compressionLevel)
        }
        guard payload.count <= limits.maxPayloadBytes else {
            throw ArtifactError(
                .tooLarge, "the compressed payload has \(payload.count) bytes, over the limit of \(limits.maxPayloadBytes)")
        }
        let chunkCount = PackageManifest.chunkCount(size: payload.count, chunkSize: options.chunkSize)
        let chunks = (0..<chunkCount).map { i in
            PackageDigest.sha256(payload[(i * options.chunkSize)..<min(payload.count, (i + 1) * options.chunkSize)])
        }
        let manifest = PackageManifest(
            format: PackageManifest.currentFormat, name: options.name, version: options.version,
            parent: options.parent ?? base?.version, createdAt: options.createdAt, keyId: key.keyId,
            minAgentVersion: options.minAgentVersion, profiles: Array(Set(options.profiles)).sorted(),
            payload: .init(
                compression: "zstd", size: payload.count, sha256: PackageDigest.sha256(payload), chunkSize: options.chunkSize,
                chunks: chunks),
            model: .init(size: model.count, sha256: PackageDigest.sha256(model)), delta: delta)
        try manifest.validate(limits: limits)
        return ModelPackage(head: try PackageHead(signing: manifest, with: key), payload: payload)
    }

    /// The smaller of two deltas: zstd with the base as prefix, and the same after replacing the
    /// tensor data by its byte-wise difference from the base's tensor data.
    static func deltaPayload(_ model: [UInt8], base: [UInt8], level: Int) throws(ArtifactError) -> (
        payload: [UInt8], subtract: PackageManifest.DeltaSubtraction?
    ) {
        let plain = try Zstd.compress(model, level: level, prefix: base)
        guard let newStart = tensorDataStart(model), let baseStart = tensorDataStart(base) else { return (plain, nil) }
        // The last 4 bytes of a model file are its CRC, not tensor data.
        let length = min(model.count - 4 - newStart, base.count - 4 - baseStart)
        guard length >= 1 else { return (plain, nil) }
        let subtract = PackageManifest.DeltaSubtraction(offset: newStart, baseOffset: baseStart, length: length)
        var difference = model
        subtract.apply(to: &difference, base: base, sign: -1)
        let diffed = try Zstd.compress(difference, level: level, prefix: base)
        return diffed.count < plain.count ? (diffed, subtract) : (plain, nil)
    }

    /// Where tensor data starts in a model file (after its header, 64-byte aligned), if it looks like one.
    static func tensorDataStart(_ model: [UInt8]) -> Int? {
        guard model.count >= 20, Array(model[0..<8]) == Array("STARMODL".utf8) else { return nil }
        let start = 16 + Int(model.readLittleEndian(UInt32.self, at: 12))
        let aligned = start + (64 - start % 64) % 64
        return aligned <= model.count - 4 ? aligned : nil
    }
}

extension PackageManifest.DeltaSubtraction {
    /// Adds (`sign` 1) or subtracts (`sign` -1) the base range to/from `bytes`, modulo 256.
    /// The ranges must lie inside both arrays (manifest validation ensures it).
    func apply(to bytes: inout [UInt8], base: [UInt8], sign: Int) {
        guard offset >= 0, baseOffset >= 0, length >= 0, offset + length <= bytes.count, baseOffset + length <= base.count else {
            return
        }
        bytes.withUnsafeMutableBufferPointer { out in
            base.withUnsafeBufferPointer { b in
                if sign >= 0 {
                    for i in 0..<length { out[offset + i] &+= b[baseOffset + i] }
                } else {
                    for i in 0..<length { out[offset + i] &-= b[baseOffset + i] }
                }
            }
        }
    }
}
