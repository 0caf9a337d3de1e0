import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Resource use of the agent process for telemetry: CPU share of the machine since the previous
/// sample, resident memory, and the bytes under the data directory.
///
/// Linux only: it reads `/proc/self/stat` (utime + stime) and `/proc/self/statm` (resident
/// pages). Nothing here traps: a reading that fails is 0 in the sample, with a note in
/// `Sample.problems`.
public final class ProcessSampler: Sendable {
    /// One reading.
    public struct Sample: Sendable, Equatable {
        /// CPU time of this process since the previous sample over the wall time times the
        /// number of cores, 0 to 100.
        public var cpuPercent: Double
        /// Resident memory in bytes.
        public var rssBytes: Int64
        /// Sum of the sizes of the regular files under the data directory (database, its WAL and
        /// shared-memory files, models), in bytes.
        public var diskUsedBytes: Int64
        /// What could not be read, for logs; empty when everything was.
        public var problems: [String]
    }

    /// The directory whose files count as the agent's disk use.
    public let dataDirectory: String
    /// Where the process files are read (`/proc/self`; a fake directory in tests).
    public let procDirectory: String
    /// Cores the CPU share is divided by.
    public let cores: Int
    private let ticksPerSecond: Double
    private let pageSize: Int64
    private let elapsed: @Sendable () -> Duration
    /// CPU seconds and the time of the previous sample.
    private let previous: Mutex<(cpu: Double, at: Duration)?>

    /// A sampler of this process; the first `sample()` covers the time since this call.
    /// `elapsed` is a monotonic clock (tests inject one); the rest defaults to the machine's values.
    public init(
        dataDirectory: String, procDirectory: String = "/proc/self", cores: Int = ProcessSampler.onlineCores,
        ticksPerSecond: Int = Int(sysconf(Int32(_SC_CLK_TCK))), pageSize: Int = Int(sysconf(Int32(_SC_PAGESIZE))),
        elapsed: @escaping @Sendable () -> Duration = ProcessSampler.monotonicNow
    ) {
        self.dataDirectory = dataDirectory
        self.procDirectory = procDirectory
        self.cores = max(1, cores)
        self.ticksPerSecond = Double(ticksPerSecond > 0 ? ticksPerSecond : 100)
        self.pageSize = Int64(pageSize > 0 ? pageSize : 4096)
        self.elapsed = elapsed
        previous = Mutex(nil)
        let start = cpuSeconds().map { (cpu: $0, at: elapsed()) }
        previous.withLock { $0 = start }
    }

    /// Cores online now (at least 1).
    public static var onlineCores: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// A monotonic clock reading (time since an arbitrary start).
    @Sendable public static func monotonicNow() -> Duration {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return .seconds(spec.tv_sec) + .nanoseconds(spec.tv_nsec)
    }

    /// Reads CPU, memory and disk use now.
    public func sample() -> Sample {
        var problems: [String] = []
        var cpuPercent = 0.0
        let now = elapsed()
        if let cpu = cpuSeconds() {
            let before = previous.withLock { state in
                defer { state = (cpu, now) }
                return state
            }
            if let before {
                let wall = Self.seconds(now - before.at)
                if wall > 0 { cpuPercent = min(100, max(0, (cpu - before.cpu) / (wall * Double(cores)) * 100)) }
            }
        } else {
            problems.append("cannot read CPU time from \(procDirectory)/stat")
        }
        var rss: Int64 = 0
        if let pages = residentPages() {
            rss = pages * pageSize
        } else {
            problems.append("cannot read resident memory from \(procDirectory)/statm")
        }
        let disk = Self.diskUsage(of: dataDirectory)
        if disk == nil { problems.append("cannot read the data directory \(dataDirectory)") }
        return Sample(cpuPercent: cpuPercent, rssBytes: rss, diskUsedBytes: disk ?? 0, problems: problems)
    }

    // MARK: - Readings

    /// utime + stime of the process in seconds, from `stat` (fields 14 and 15).
    func cpuSeconds() -> Double? {
        guard let text = Self.readSmallFile("\(procDirectory)/stat") else { return nil }
        // The command name (field 2) is in parentheses and may itself contain spaces and ')'.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state), so utime (14) and stime (15) are fields[11] and [12].
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / ticksPerSecond
    }

    /// Resident pages, from `statm` (second field).
    func residentPages() -> Int64? {
        guard let text = Self.readSmallFile("\(procDirectory)/statm") else { return nil }
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count > 1, let pages = Int64(fields[1]), pages >= 0 else { return nil }
        return pages
    }

    private static func seconds(_ duration: Duration) -> Double {
        let parts = duration.components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }

    /// The contents of a small text file (proc files report a size of 0, so read until EOF).
    static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 1 << 16 {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { return nil }
            if n == 0 { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: - Disk

    /// The sizes of the regular files under `directory` added up (symbolic links are not
    /// followed); nil if `directory` itself cannot be read. Unreadable subdirectories count as 0.
    public static func diskUsage(of directory: String) -> Int64? {
        guard let top = opendir(directory) else { return nil }
        closedir(top)
        return usage(of: directory, depth: 0)
    }

    private static func usage(of directory: String, depth: Int) -> Int64 {
        guard depth < 32, let handle = opendir(directory) else { return 0 }
        defer { closedir(handle) }
        var total: Int64 = 0
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name == "." || name == ".." { continue }
            let path = "\(directory)/\(name)"
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFREG: total += Int64(info.st_size)
            case S_IFDIR: total += usage(of: path, depth: depth + 1)
            default: break
            }
        }
        return total
    }
}
