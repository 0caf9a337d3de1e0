#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The simulator's own resource use, from `/proc/self` (Linux; zeros elsewhere).
struct ProcessFootprint: Sendable {
    var rssBytes: Int64 = 0
    var threads = 0
    var fileDescriptors = 0
    var cpuSeconds = 0.0

    /// Reads it now.
    static func now() -> ProcessFootprint {
        var footprint = ProcessFootprint()
        let sampler = ProcessSampler(dataDirectory: "/nonexistent")
        footprint.rssBytes = (sampler.residentPages() ?? 0) * Int64(sysconf(Int32(_SC_PAGESIZE)))
        footprint.cpuSeconds = sampler.cpuSeconds() ?? 0
        if let status = ProcessSampler.readSmallFile("/proc/self/status") {
            for line in status.split(separator: "\n") where line.hasPrefix("Threads:") {
                footprint.threads = Int(line.dropFirst("Threads:".count).filter { !$0.isWhitespace }) ?? 0
            }
        }
        if let directory = opendir("/proc/self/fd") {
            while readdir(directory) != nil { footprint.fileDescriptors += 1 }
            closedir(directory)
            footprint.fileDescriptors = max(0, footprint.fileDescriptors - 3)  // ".", ".." and the directory itself
        }
        return footprint
    }

    /// Gives memory freed since back to the system (glibc's `malloc_trim`): after a rollout the
    /// thousand devices' freed chunks and payloads otherwise stay in malloc's arenas, counted
    /// in the resident size. Returns whether anything was released.
    @discardableResult
    static func releaseFreedMemory() -> Bool {
        typealias Trim = @convention(c) (Int) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return false }
        return unsafeBitCast(symbol, to: Trim.self)(0) == 1
    }

    /// Raises the soft limit of open files to the hard limit; returns the new soft limit.
    @discardableResult
    static func raiseFileLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return Int(clamping: limit.rlim_cur)
    }
}
