import Testing

@testable import Core

@Suite("ManualClock")
struct ManualClockTests {
    @Test("sleepers wake in deadline order when time is advanced past them, not before")
    func advancing() async throws {
        let clock = ManualClock()
        let woken = Recorder()
        let tasks = [30, 10, 20].map { ms in
            Task {
                try await clock.sleep(for: .milliseconds(ms))
                await woken.add(ms)
            }
        }
        while clock.sleeperCount < 3 { await Task.yield() }
        clock.advance(by: .milliseconds(15))
        _ = try await tasks[1].value
        #expect(await woken.values == [10])
        #expect(clock.sleeperCount == 2)
        clock.advance(by: .milliseconds(15))
        for task in tasks { _ = try await task.value }
        #expect(Set(await woken.values) == [10, 20, 30])
        #expect(clock.now.offset == .milliseconds(30))
    }

    @Test("a cancelled sleep throws and leaves no sleeper behind")
    func cancellation() async {
        let clock = ManualClock()
        let task = Task { try await clock.sleep(for: .seconds(60)) }
        while clock.sleeperCount < 1 { await Task.yield() }
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(clock.sleeperCount == 0)
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await clock.sleep(for: .seconds(1))
        }
        await #expect(throws: CancellationError.self) { try await early.value }
    }
}

actor Recorder {
    var values: [Int] = []
    func add(_ v: Int) { values.append(v) }
}
