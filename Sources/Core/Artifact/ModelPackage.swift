/// A model package: the signed head and the compressed payload, i.e. one package file.
///
/// `parse` only checks the framing and the manifest; trust, digests and decompression are
/// `PackageVerifier`'s job, in the documented order.
public struct ModelPackage: Sendable, Equatable {
    /// The signed head.
    public var head: PackageHead
    /// The payload bytes (a zstd frame), exactly as transferred.
    public var payload: [UInt8]

    /// A package of `head` and `payload`.
    public init(head: PackageHead, payload: [UInt8]) {
        self.head = head
        self.payload = payload
    }

    /// The signed manifest.
    public var manifest: PackageManifest { head.manifest }

    /// The package file bytes.
    public func encode() -> [UInt8] {
        var out = head.encode()
        out.reserveCapacity(out.count + payload.count)
        out.append(contentsOf: payload)
        return out
    }

    /// Parses a package file: size bounds and framing, then the manifest (no trust or digest
    /// checks). A short file is `truncated`, extra bytes after the payload `corruptContainer`.
    public static func parse(_ bytes: [UInt8], limits: ArtifactLimits = .standard) throws(ArtifactError) -> ModelPackage {
        guard bytes.count <= limits.maxPackageBytes else {
            throw ArtifactError(.tooLarge, "the package has \(bytes.count) bytes, over the limit of \(limits.maxPackageBytes)")
        }
        let lengths = try PackageHead.readPreamble(bytes, limits: limits)
        let total = PackageHead.preambleBytes + lengths.manifest + PackageHead.signatureBlockBytes + lengths.payload
        guard bytes.count >= total else {
            throw ArtifactError(
                .truncated, "the package is truncated: \(bytes.count) bytes of the \(total) its preamble declares")
        }
        guard bytes.count == total else {
            throw ArtifactError(.corruptContainer, "the package has \(bytes.count - total) unexpected bytes after its payload")
        }
        let head = try PackageHead.parse(bytes, limits: limits)
        return ModelPackage(head: head, payload: Array(bytes[head.byteCount...]))
    }

    /// Reads a package file, refusing one over the size limit before reading it.
    public static func readFile(path: String, limits: ArtifactLimits = .standard) throws(ArtifactError) -> [UInt8] {
        do {
            let size = try FileIO.size(path)
            guard size <= limits.maxPackageBytes else {
                throw ArtifactError(.tooLarge, "'\(path)' has \(size) bytes, over the package limit of \(limits.maxPackageBytes)")
            }
            return try FileIO.read(path)
        } catch let error as ArtifactError {
            throw error
        } catch let error as ModelError {
            throw ArtifactError.io(error)
        } catch {
            throw ArtifactError(.io, "cannot read '\(path)'")
        }
    }

    // MARK: - Chunks

    /// The chunk at `index` (see `Chunk`).
    public func chunk(_ index: Int) -> Chunk {
        let range = head.chunkRange(index)
        return Chunk(packageId: head.id, index: index, bytes: Array(payload[range]))
    }

    /// All chunks, in order.
    public func chunks() -> [Chunk] {
        (0..<head.chunkCount).map(chunk)
    }
}

/// One piece of a package payload in transfer: `chunkSize` bytes at `index * chunkSize` (the last
/// one shorter), tagged with the package id so a piece of another package is recognised.
public struct Chunk: Sendable, Equatable {
    /// The package it belongs to (`PackageHead.id`).
    public var packageId: String
    /// Its position, from 0.
    public var index: Int
    /// Its bytes.
    public var bytes: [UInt8]

    /// A chunk.
    public init(packageId: String, index: Int, bytes: [UInt8]) {
        self.packageId = packageId
        self.index = index
        self.bytes = bytes
    }
}

extension PackageHead {
    /// Number of payload chunks.
    public var chunkCount: Int { manifest.payload.chunks.count }

    /// Where chunk `index` lies in the payload.
    public func chunkRange(_ index: Int) -> Range<Int> {
        let start = index * manifest.payload.chunkSize
        return start..<min(manifest.payload.size, start + manifest.payload.chunkSize)
    }

    /// Checks a received chunk against the signed manifest, cheapest test first: package id,
    /// index, length (`chunkTruncated`, `chunkOversized`), then SHA-256.
    public func check(_ chunk: Chunk) throws(ArtifactError) {
        guard chunk.packageId == id else {
            throw ArtifactError(
                .chunkFromOtherPackage,
                "chunk \(chunk.index) belongs to package \(chunk.packageId.prefix(16)), not \(id.prefix(16))")
        }
        guard chunk.index >= 0 && chunk.index < chunkCount else {
            throw ArtifactError(.chunkIndexOutOfRange, "chunk index \(chunk.index) is outside 0..<\(chunkCount)")
        }
        let expected = chunkRange(chunk.index).count
        guard chunk.bytes.count >= expected else {
            throw ArtifactError(
                .chunkTruncated, "chunk \(chunk.index) has \(chunk.bytes.count) bytes, expected \(expected); request it again")
        }
        guard chunk.bytes.count == expected else {
            throw ArtifactError(.chunkOversized, "chunk \(chunk.index) has \(chunk.bytes.count) bytes, expected \(expected)")
        }
        guard PackageDigest.sha256(chunk.bytes) == manifest.payload.chunks[chunk.index] else {
            throw ArtifactError(
                .chunkDigestMismatch, "chunk \(chunk.index) does not match its SHA-256 in the manifest; request it again")
        }
    }

    /// Checks every chunk and joins them into the package, checking the whole payload digest.
    /// Chunks may come in any order and repeat; a missing one is `incomplete`.
    public func assemble(_ chunks: [Chunk]) throws(ArtifactError) -> ModelPackage {
        var parts = [[UInt8]?](repeating: nil, count: chunkCount)
        for chunk in chunks {
            try check(chunk)
            parts[chunk.index] = chunk.bytes
        }
        let missing = parts.indices.filter { parts[$0] == nil }
        guard missing.isEmpty else {
            throw ArtifactError(.incomplete, "\(missing.count) of \(chunkCount) chunks are missing (first: \(missing[0]))")
        }
        var payload: [UInt8] = []
        payload.reserveCapacity(manifest.payload.size)
        for part in parts { payload.append(contentsOf: part!) }
        try checkPayload(payload)
        return ModelPackage(head: self, payload: payload)
    }

    /// Checks the payload's size and SHA-256 against the manifest (`payloadDigestMismatch`).
    public func checkPayload(_ payload: [UInt8]) throws(ArtifactError) {
        guard payload.count == manifest.payload.size else {
            throw ArtifactError(
                .payloadDigestMismatch, "the payload has \(payload.count) bytes, the manifest says \(manifest.payload.size)")
        }
        guard PackageDigest.sha256(payload) == manifest.payload.sha256 else {
            throw ArtifactError(
                .payloadDigestMismatch,
                "the payload does not match its SHA-256 in the signed manifest: it is corrupt or was altered")
        }
    }
}
