/// The fetcher's view of a clock: time elapsed since the transfer started, and sleeping. Any
/// `Clock` with `Duration` steps fits (`ContinuousClock` in production, `ManualClock` in tests).
struct TransferClock: Sendable {
    /// Time since the clock was made.
    let elapsed: @Sendable () -> Duration
    /// Sleeps for a duration (throws when the task is cancelled).
    let sleep: @Sendable (Duration) async throws -> Void

    /// A view of `clock` starting now.
    init<C: Clock>(_ clock: C) where C.Duration == Duration {
        let start = clock.now
        elapsed = { start.duration(to: clock.now) }
        sleep = { try await clock.sleep(for: $0) }
    }
}
