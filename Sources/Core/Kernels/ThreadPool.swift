import CXNNPACK

/// A persistent pool of worker threads (pthreadpool) for splitting a kernel call.
public final class ThreadPool: @unchecked Sendable {
    let pool: pthreadpool_t?
    /// Number of threads, including the caller's.
    public let threads: Int

    /// A pool of `threads` threads; 1 runs everything on the caller.
    public init(threads: Int) {
        self.threads = max(1, threads)
        pool = self.threads > 1 ? pthreadpool_create(self.threads) : nil
    }

    deinit {
        if let pool { pthreadpool_destroy(pool) }
    }

    /// Calls `body(i)` for i in 0..<count, spread over the pool; returns when all are done.
    public func run(_ count: Int, _ body: (Int) -> Void) {
        guard let pool, count > 1 else {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { escaping in
            var task = escaping
            withUnsafeMutablePointer(to: &task) { pointer in
                pthreadpool_parallelize_1d(
                    pool,
                    { context, index in
                        context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(index)
                    }, UnsafeMutableRawPointer(pointer), count, 0)
            }
        }
    }
}
