#if canImport(Glibc)
import Glibc
#endif

/// glibc gives each thread that meets a locked heap an arena of its own, up to 8 per core; each
/// keeps freed memory for reuse, so a daemon with a few busy threads (the HTTP event loops, the
/// training thread, SQLite's) holds several megabytes it does not use. One arena is the leanest:
/// the agent's threads rarely allocate at the same moment.
public enum MallocArenas {
    /// glibc's `M_ARENA_MAX` (malloc.h, which Swift's Glibc module does not import).
    static let arenaMaxOption: Int32 = -8

    /// Limits malloc to `count` arenas (0 leaves glibc's default); call before threads start.
    /// Returns whether the limit was set (false off glibc, or for 0).
    @discardableResult
    public static func limit(_ count: Int) -> Bool {
        #if canImport(Glibc)
        guard count > 0, let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return false }
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        return unsafeBitCast(symbol, to: Mallopt.self)(arenaMaxOption, Int32(count)) == 1
        #else
        return false
        #endif
    }
}
