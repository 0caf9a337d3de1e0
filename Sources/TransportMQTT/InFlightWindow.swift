import Synchronization

/// A counting semaphore for async callers: at most `capacity` QoS 1 publishes are in flight,
/// later callers wait in FIFO order. This bounds the memory held by a fast publisher (its
/// message copies inside libmosquitto) whatever the broker's speed.
final class InFlightWindow: Sendable {
    private struct State {
        var inUse = 0
        var peak = 0
        var closed = false
        var waiters: [CheckedContinuation<Bool, Never>] = []
        var head = 0
    }

    /// Slots in the window.
    let capacity: Int
    private let state = Mutex(State())

    /// A window of `capacity` slots.
    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Slots taken now.
    var inUse: Int { state.withLock { $0.inUse } }
    /// Most slots ever taken at once.
    var peak: Int { state.withLock { $0.peak } }
    /// Callers waiting for a slot.
    var waiting: Int { state.withLock { $0.waiters.count - $0.head } }

    /// Takes a slot, waiting for one if the window is full; false once the window is closed.
    /// Not cancellable: a publish that started waiting ends with a slot or with `close()`.
    func acquire() async -> Bool {
        let immediate: Bool? = state.withLock { state in
            if state.closed { return false }
            guard state.inUse < capacity, state.head == state.waiters.count else { return nil }
            state.inUse += 1
            state.peak = max(state.peak, state.inUse)
            return true
        }
        if let immediate { return immediate }
        return await withCheckedContinuation { continuation in
            let resumeNow: Bool? = state.withLock { state in
                if state.closed { return false }
                if state.inUse < capacity, state.head == state.waiters.count {
                    state.inUse += 1
                    state.peak = max(state.peak, state.inUse)
                    return true
                }
                state.waiters.append(continuation)
                return nil
            }
            if let resumeNow { continuation.resume(returning: resumeNow) }
        }
    }

    /// Gives a slot back; the oldest waiter, if any, takes it over.
    func release() {
        let next: CheckedContinuation<Bool, Never>? = state.withLock { state in
            guard state.head < state.waiters.count else {
                state.inUse = max(0, state.inUse - 1)
                return nil
            }
            let next = state.waiters[state.head]
            state.head += 1
            if state.head == state.waiters.count || (state.head >= 1024 && state.head * 2 >= state.waiters.count) {
                state.waiters.removeFirst(state.head)
                state.head = 0
            }
            return next
        }
        next?.resume(returning: true)
    }

    /// Fails every waiter and every later `acquire`.
    func close() {
        let waiters: ArraySlice<CheckedContinuation<Bool, Never>> = state.withLock { state in
            state.closed = true
            let rest = state.waiters[state.head...]
            state.waiters = []
            state.head = 0
            return rest
        }
        for waiter in waiters { waiter.resume(returning: false) }
    }
}
