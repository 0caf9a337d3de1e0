#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A package file on disk served chunk by chunk: the head is parsed once when the file is opened,
/// and each chunk is read by offset (`pread`) when asked for, then checked against the manifest,
/// so a file damaged on the hub's disk is reported (`corruptSource`) instead of shipped to every
/// device. The file descriptor stays open until the last reference goes.
public final class PackageFile: PackageSource {
    /// The file's path.
    public let path: String
    /// The signed head (not verified: the hub serves its own files; devices verify).
    public let head: PackageHead
    private let descriptor: Int32

    /// Opens `path` and parses its head within `limits`; the file's size must be exactly head
    /// plus payload.
    public init(path: String, limits: ArtifactLimits = .standard) throws(TransferError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Self.failure(.storage, "cannot open package file '\(path)'") }
        do throws(TransferError) {
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw Self.failure(.storage, "cannot stat package file '\(path)'") }
            let size = Int(info.st_size)
            let preamble = try Self.read(fd, offset: 0, count: min(size, PackageHead.preambleBytes), path: path)
            let manifestBytes =
                preamble.count == PackageHead.preambleBytes
                ? Int(preamble.readLittleEndian(UInt32.self, at: 12)) : 0
            let headBytes =
                PackageHead.preambleBytes + min(manifestBytes, limits.maxManifestBytes)
                + PackageHead.signatureBlockBytes
            let headRead = try Self.read(fd, offset: 0, count: min(size, headBytes), path: path)
            let parsed: PackageHead
            do throws(ArtifactError) {
                parsed = try PackageHead.parse(headRead, limits: limits)
            } catch {
                throw TransferError(.corruptSource, "'\(path)' is not a servable package: \(error.message)", underlying: error)
            }
            let expected = parsed.byteCount + parsed.manifest.payload.size
            guard size == expected else {
                throw TransferError(
                    .corruptSource, "package file '\(path)' has \(size) bytes; its head declares \(expected)")
            }
            head = parsed
        } catch {
            close(fd)
            throw error
        }
        self.path = path
        descriptor = fd
    }

    deinit {
        close(descriptor)
    }

    /// Reads chunk `index` from disk and checks its SHA-256 against the manifest.
    public func chunk(_ index: Int) async throws(TransferError) -> [UInt8] {
        guard index >= 0, index < head.chunkCount else {
            throw TransferError(.invalidArgument, "chunk index \(index) is outside 0..<\(head.chunkCount)")
        }
        let range = head.chunkRange(index)
        let bytes = try Self.read(descriptor, offset: head.byteCount + range.lowerBound, count: range.count, path: path)
        guard bytes.count == range.count else {
            throw TransferError(.corruptSource, "package file '\(path)' ends inside chunk \(index); it was truncated")
        }
        do {
            try head.check(Chunk(packageId: head.id, index: index, bytes: bytes))
        } catch {
            throw TransferError(
                .corruptSource, "chunk \(index) of package file '\(path)' is damaged; rebuild or restore the file",
                underlying: error)
        }
        return bytes
    }

    /// Up to `count` bytes at `offset` (fewer only at the end of the file).
    private static func read(_ fd: Int32, offset: Int, count: Int, path: String) throws(TransferError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure(.storage, "cannot read package file '\(path)'")
            }
            if n == 0 { break }
            done += n
        }
        if done < count { bytes.removeLast(count - done) }
        return bytes
    }

    private static func failure(_ code: TransferError.Code, _ message: String) -> TransferError {
        TransferError(code, "\(message): \(String(cString: strerror(errno)))")
    }
}
