#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file reads and atomic writes with POSIX calls (no Foundation on the hot path).
public enum FileIO {
    /// The contents of the file at `path`.
    public static func read(_ path: String) throws(ModelError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw error("cannot open '\(path)'") }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw error("cannot read '\(path)'")
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    /// The size of the file at `path` in bytes.
    public static func size(_ path: String) throws(ModelError) -> Int {
        var info = stat()
        guard stat(path, &info) == 0 else { throw error("cannot stat '\(path)'") }
        return Int(info.st_size)
    }

    /// Writes `bytes` to a temporary file beside `path`, syncs it, renames it over `path` and
    /// syncs the directory, so that after a crash readers see either the old or the new file.
    /// The file is created with permissions `mode` (less the umask), so a secret is never readable
    /// by others, not even for a moment.
    public static func writeAtomically(_ bytes: [UInt8], to path: String, mode: Int = 0o644) throws(ModelError) {
        var random = SystemRandomNumberGenerator()
        let temporary = "\(path).tmp-\(getpid())-\(random.next() & 0xFFFF_FFFF)"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw error("cannot create '\(temporary)'") }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { systemWrite(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                let failure = error("cannot write '\(temporary)'")
                close(fd)
                unlink(temporary)
                throw failure
            }
            written += n
        }
        let synced = fsync(fd) == 0
        close(fd)
        guard synced, rename(temporary, path) == 0 else {
            let failure = error("cannot replace '\(path)'")
            unlink(temporary)
            throw failure
        }
        syncDirectory(of: path)
    }

    /// Writes `text` to `path` atomically.
    public static func writeAtomically(_ text: String, to path: String) throws(ModelError) {
        try writeAtomically(Array(text.utf8), to: path)
    }

    private static func syncDirectory(of path: String) {
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let fd = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    static func error(_ message: String) -> ModelError {
        ModelError(.io, "\(message): \(String(cString: strerror(errno)))")
    }
}

// The module-qualified system calls, which `FileIO.read` would otherwise shadow.
#if canImport(Glibc)
private let systemRead = Glibc.read
private let systemWrite = Glibc.write
#elseif canImport(Musl)
private let systemRead = Musl.read
private let systemWrite = Musl.write
#elseif canImport(Darwin)
private let systemRead = Darwin.read
private let systemWrite = Darwin.write
#endif
