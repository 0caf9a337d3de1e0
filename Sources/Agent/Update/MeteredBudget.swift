/// The firmware profile's network policy for downloads: on a metered link a package is fetched
/// only when it fits in what is left of the day's byte budget; otherwise the download waits for
/// the next day (UTC), still in `downloading`. A package larger than a whole day's budget is
/// refused. Downloaded bytes are counted in the store, so a restart does not reset the day.
public struct MeteredBudget: Sendable {
    /// Bytes a day, or nil when the link is not metered.
    public let dailyBytes: Int64?
    /// The store keeping each day's usage.
    public let store: AgentStore
    /// Milliseconds since the epoch.
    public let now: @Sendable () -> Int64
    /// How often a waiting download looks again.
    public let recheck: Duration

    /// A budget per `profile`'s network policy.
    public init(
        profile: FirmwareProfile, store: AgentStore, now: @escaping @Sendable () -> Int64 = StoreConfiguration.wallClockMilliseconds,
        recheck: Duration = .seconds(60)
    ) {
        dailyBytes = profile.network.metered ? profile.network.dailyByteBudget.map(Int64.init) : nil
        self.store = store
        self.now = now
        self.recheck = recheck
    }

    /// The day (UTC) of `time`.
    static func day(_ time: Int64) -> Int64 { time / 86_400_000 }

    /// Returns when `bytes` fit in today's budget; throws if they never can.
    public func waitForRoom(_ bytes: Int64, what: String) async throws(UpdateFailure) {
        guard let dailyBytes else { return }
        guard bytes <= dailyBytes else {
            throw UpdateFailure(
                .downloadFailed,
                "\(what) is \(bytes) bytes, over the metered network's daily budget of \(dailyBytes) bytes (firmware profile)")
        }
        while true {
            let used = (try? await store.networkUsage(day: Self.day(now()))) ?? 0
            if used + bytes <= dailyBytes { return }
            do {
                try await Task.sleep(for: recheck)
            } catch {
                throw UpdateFailure(.downloadFailed, "the download of \(what) was cancelled while waiting for the daily budget")
            }
        }
    }

    /// Counts `bytes` against today's budget.
    public func record(_ bytes: Int64) async {
        guard dailyBytes != nil else { return }
        try? await store.addNetworkUsage(day: Self.day(now()), bytes: bytes)
    }
}
