import Core
import Synchronization
import Testing

@testable import Agent

@Suite("Metered network budget")
struct MeteredBudgetTests {
    @Test("a download waits while today's budget is spent, goes on the next day, and counts its bytes")
    func waitsForTomorrow() async throws {
        try await withStore { store, directory in
            let profile = try InstallFixture.profile(dailyBytes: 10_000, in: directory)
            let clock = Mutex<Int64>(5 * 86_400_000 + 1000)
            let budget = MeteredBudget(profile: profile, store: store, now: { clock.withLock { $0 } }, recheck: .milliseconds(5))
            try await budget.waitForRoom(6000, what: "first")
            await budget.record(6000)
            #expect(try await store.networkUsage(day: 5) == 6000)

            let finished = Mutex(false)
            let waiting = Task {
                try await budget.waitForRoom(6000, what: "second")
                finished.withLock { $0 = true }
            }
            try await Task.sleep(for: .milliseconds(100))
            #expect(!finished.withLock { $0 }, "6000 more bytes do not fit in today's 4000")
            clock.withLock { $0 += 86_400_000 }
            try await waiting.value
            #expect(finished.withLock { $0 })
        }
    }

    @Test("a package larger than a whole day's budget is refused, naming the budget; an unmetered profile never waits")
    func tooLargeAndUnmetered() async throws {
        try await withStore { store, directory in
            let metered = MeteredBudget(profile: try InstallFixture.profile(dailyBytes: 1000, in: directory), store: store)
            let error = try await #require(throws: UpdateFailure.self) { try await metered.waitForRoom(1001, what: "pkg") }
            #expect(error.kind == .downloadFailed && error.reason.contains("daily budget of 1000 bytes"))
            let free = MeteredBudget(profile: try InstallFixture.profile(in: directory), store: store)
            try await free.waitForRoom(Int64.max / 2, what: "pkg")
            await free.record(123)
            #expect(try await store.networkUsage(day: MeteredBudget.day(StoreConfiguration.wallClockMilliseconds())) == 0)
        }
    }
}
