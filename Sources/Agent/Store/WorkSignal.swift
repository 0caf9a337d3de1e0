import Synchronization

/// A wake-up flag between a producer and waiting consumers: `notify` sets it and wakes every
/// waiter; `wait` returns at once if it is set (clearing it), otherwise when it is next set or
/// the waiting task is cancelled. Notifications never pile up: many become one wake-up.
public final class WorkSignal: Sendable {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var pending = false
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
        var cancelled: Set<UInt64> = []
    }

    private let state = Mutex(State())

    /// An unset signal.
    public init() {}

    /// Sets the flag and wakes the waiters.
    public func notify() {
        let waiters = state.withLock { s -> [Waiter] in
            guard !s.waiters.isEmpty else {
                s.pending = true
                return []
            }
            defer { s.waiters = [] }
            return s.waiters
        }
        for waiter in waiters { waiter.continuation.resume() }
    }

    /// Waits until the flag is set (or the task is cancelled), then clears it.
    public func wait() async {
        let id = state.withLock { s in
            s.nextID += 1
            return s.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { s -> Bool in
                    if s.cancelled.remove(id) != nil { return true }
                    if s.pending {
                        s.pending = false
                        return true
                    }
                    s.waiters.append(Waiter(id: id, continuation: continuation))
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { s -> Waiter? in
                guard let index = s.waiters.firstIndex(where: { $0.id == id }) else {
                    s.cancelled.insert(id)
                    return nil
                }
                return s.waiters.remove(at: index)
            }
            waiter?.continuation.resume()
        }
    }
}
