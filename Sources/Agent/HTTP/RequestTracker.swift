import Synchronization

/// Counts requests being answered, so that shutdown can wait for them.
final class RequestTracker: Sendable {
    private let count = Atomic<Int>(0)

    func started() { count.add(1, ordering: .relaxed) }
    func finished() { count.subtract(1, ordering: .relaxed) }

    /// Requests received and not yet answered.
    var inFlight: Int { count.load(ordering: .relaxed) }
}
