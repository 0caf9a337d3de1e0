#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Received chunks of one package on disk, so a transfer resumes after a disconnect or a
/// process restart with only the missing chunks.
///
/// Layout: `DIR/head` (the signed package head) and `DIR/chunks/NNNNNNNN` (one file per chunk,
/// each written atomically: temporary file, fsync, rename). Opening a directory re-checks every
/// chunk file against the manifest; a corrupt or foreign one is deleted (listed in `discarded`)
/// and is missing again, so the caller requests it anew. One directory per package.
///
/// With `syncEachChunk` off, chunk files are written to a temporary file and renamed without an
/// fsync: a power cut may then lose or tear the latest chunks, which the checks on opening (and
/// in `assemble`) find and discard, so they are fetched again. Nothing unchecked is ever used;
/// the transfer just avoids two fsyncs per chunk (on a slow SD card, most of its time).
public struct ChunkStore: Sendable {
    /// The store's directory.
    public let directory: String
    /// The package being received.
    public let head: PackageHead
    /// Indices of the chunks on disk and verified.
    public private(set) var received: Set<Int> = []
    /// Chunk files found corrupt when the store was opened or assembled, and deleted.
    public private(set) var discarded: [Int] = []
    /// Whether each chunk file is fsynced before `receive` returns (see the type's documentation).
    public let syncEachChunk: Bool

    /// Opens (or creates) the store for `head`, which the caller verified (`PackageVerifier.verifyHead`).
    /// A directory holding another package's head is refused with `chunkFromOtherPackage`.
    public init(directory: String, head: PackageHead, syncEachChunk: Bool = true) throws(ArtifactError) {
        self.directory = directory
        self.head = head
        self.syncEachChunk = syncEachChunk
        do {
            try FileIO.createDirectory(directory + "/chunks", mode: 0o700)
            if FileIO.exists(headPath) {
                let stored = try FileIO.read(headPath)
                guard stored == head.encode() else {
                    throw ArtifactError(
                        .chunkFromOtherPackage, "'\(directory)' holds chunks of another package; use one directory per package")
                }
            } else {
                try FileIO.writeAtomically(head.encode(), to: headPath)
            }
        } catch let error as ArtifactError {
            throw error
        } catch let error as ModelError {
            throw ArtifactError.io(error)
        } catch {
            throw ArtifactError(.io, "cannot open chunk store '\(directory)'")
        }
        try scan()
    }

    /// Reopens a store after a restart: reads its head, verifies it with `verifier` (signature
    /// and all), then re-checks the chunk files.
    public static func resume(
        directory: String, verifier: PackageVerifier, syncEachChunk: Bool = true
    ) throws(ArtifactError) -> ChunkStore {
        let path = directory + "/head"
        let limit = PackageHead.preambleBytes + verifier.limits.maxManifestBytes + PackageHead.signatureBlockBytes
        let size: Int
        let bytes: [UInt8]
        do {
            size = try FileIO.size(path)
        } catch {
            throw ArtifactError.io(error)
        }
        guard size <= limit else {
            throw ArtifactError(.tooLarge, "'\(path)' has \(size) bytes, over the head limit of \(limit)")
        }
        do {
            bytes = try FileIO.read(path)
        } catch {
            throw ArtifactError.io(error)
        }
        return try ChunkStore(directory: directory, head: try verifier.verifyHead(bytes), syncEachChunk: syncEachChunk)
    }

    private var headPath: String { directory + "/head" }

    private func path(of index: Int) -> String {
        let digits = String(index)
        return directory + "/chunks/" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    private mutating func scan() throws(ArtifactError) {
        let names: [String]
        do {
            names = try FileIO.listDirectory(directory + "/chunks")
        } catch {
            throw ArtifactError.io(error)
        }
        for name in names {
            let file = directory + "/chunks/" + name
            // Leftovers of an interrupted atomic write, or anything else that is not ours.
            guard name.utf8.count == 8, name.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let index = Int(name),
                index < head.chunkCount
            else {
                try? FileIO.removeFile(file)
                continue
            }
            if isIntact(file, index: index) {
                received.insert(index)
            } else {
                try? FileIO.removeFile(file)
                discarded.append(index)
            }
        }
    }

    /// True when `file` holds chunk `index` exactly. The size is checked first, so a damaged
    /// (e.g. huge) file is never read into memory.
    private func isIntact(_ file: String, index: Int) -> Bool {
        guard (try? FileIO.size(file)) == head.chunkRange(index).count, let bytes = try? FileIO.read(file) else { return false }
        return (try? head.check(Chunk(packageId: head.id, index: index, bytes: bytes))) != nil
    }

    /// Chunk indices still to fetch, ascending.
    public var missing: [Int] { (0..<head.chunkCount).filter { !received.contains($0) } }

    /// True when every chunk is on disk.
    public var isComplete: Bool { received.count == head.chunkCount }

    /// Payload bytes on disk.
    public var receivedBytes: Int { received.reduce(0) { $0 + head.chunkRange($1).count } }

    /// Checks `chunk` (`PackageHead.check`) and stores it; false when it was already there
    /// (duplicates are harmless). A refused chunk leaves nothing on disk.
    @discardableResult
    public mutating func receive(_ chunk: Chunk) throws(ArtifactError) -> Bool {
        try head.check(chunk)
        if received.contains(chunk.index) { return false }
        do {
            if syncEachChunk {
                try FileIO.writeAtomically(chunk.bytes, to: path(of: chunk.index))
            } else {
                try Self.writeRenaming(chunk.bytes, to: path(of: chunk.index))
            }
        } catch {
            throw ArtifactError.io(error)
        }
        received.insert(chunk.index)
        return true
    }

    /// Reads every chunk back, re-checks each, and returns the package (whole payload digest
    /// checked). A chunk damaged on disk since it was received is deleted, becomes missing again,
    /// and the call fails with `chunkDigestMismatch`; missing chunks are `incomplete`.
    public mutating func assemble() throws(ArtifactError) -> ModelPackage {
        guard isComplete else {
            throw ArtifactError(.incomplete, "\(missing.count) of \(head.chunkCount) chunks are still missing")
        }
        var chunks: [Chunk] = []
        chunks.reserveCapacity(head.chunkCount)
        for index in 0..<head.chunkCount {
            let bytes: [UInt8]
            do {
                bytes = try FileIO.read(path(of: index))
            } catch {
                forget(index)
                throw ArtifactError(
                    .incomplete, "chunk \(index) vanished from '\(directory)'; request it again", underlying: error)
            }
            let chunk = Chunk(packageId: head.id, index: index, bytes: bytes)
            do {
                try head.check(chunk)
            } catch {
                forget(index)
                throw ArtifactError(
                    .chunkDigestMismatch, "chunk \(index) was damaged on disk and is discarded; request it again",
                    underlying: error)
            }
            chunks.append(chunk)
        }
        return try head.assemble(chunks)
    }

    private mutating func forget(_ index: Int) {
        try? FileIO.removeFile(path(of: index))
        received.remove(index)
        discarded.append(index)
    }

    /// Deletes the store's directory (after the package was installed or abandoned).
    public func remove() throws(ArtifactError) {
        do {
            try FileIO.removeTree(directory)
        } catch {
            throw ArtifactError.io(error)
        }
    }
}

extension ChunkStore {
    /// Writes `bytes` to a temporary file beside `path` and renames it over `path`, without fsync:
    /// a reader never sees a partly written file under `path` while the system runs.
    fileprivate static func writeRenaming(_ bytes: [UInt8], to path: String) throws(ModelError) {
        let temporary = "\(path).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FileIO.error("cannot create '\(temporary)'") }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                let failure = FileIO.error("cannot write '\(temporary)'")
                close(fd)
                unlink(temporary)
                throw failure
            }
            written += n
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let failure = FileIO.error("cannot replace '\(path)'")
            unlink(temporary)
            throw failure
        }
    }
}
