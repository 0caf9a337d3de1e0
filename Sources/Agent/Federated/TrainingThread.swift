import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs long CPU work (local training) on a thread of its own at a lower scheduling priority,
/// off the NIO event loops and the cooperative pool, so serving keeps its share of the CPU.
enum TrainingThread {
    /// `body`'s result, computed on a new thread whose nice value is `niceness`.
    static func run<T: Sendable>(niceness: Int, _ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                lowerPriority(niceness)
                continuation.resume(returning: body())
            }
            thread.name = "starling-fl-train"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// Sets the calling thread's nice value (Linux schedules threads separately; elsewhere a no-op).
    static func lowerPriority(_ niceness: Int) {
        #if os(Linux)
            guard niceness > 0, let tid = currentThreadID() else { return }
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(tid), Int32(min(niceness, 19)))
        #endif
    }

    /// The nice value of the calling thread, or nil where threads have none of their own.
    static func currentNiceness() -> Int? {
        #if os(Linux)
            guard let tid = currentThreadID() else { return nil }
            errno = 0
            let value = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(tid))
            return errno == 0 ? Int(value) : nil
        #else
            return nil
        #endif
    }

    /// The kernel's id of the calling thread, from `/proc/thread-self` (Swift has no `gettid`).
    static func currentThreadID() -> Int32? {
        #if os(Linux)
            var buffer = [CChar](repeating: 0, count: 64)
            let capacity = buffer.count - 1
            let count = readlink("/proc/thread-self", &buffer, capacity)
            guard count > 0 else { return nil }
            let link = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return link.split(separator: "/").last.flatMap { Int32($0) }
        #else
            return nil
        #endif
    }
}
