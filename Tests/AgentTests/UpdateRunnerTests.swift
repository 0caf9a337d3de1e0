import Core
import Synchronization
import Testing

@testable import Agent

/// A device the fake effects act on: which version of each model serves, and what is staged.
final class FakeDevice: Sendable {
    struct State {
        var active: [String: String] = [:]
        var staged: Set<String> = []
        var failed: Set<String> = []
    }

    let state = Mutex(State())

    var active: [String: String] { state.withLock { $0.active } }
}

/// Update effects that act on a `FakeDevice`, log their calls, and fail where told.
final class FakeEffects: UpdateEffects {
    let device: FakeDevice
    let failIn: Set<String>
    private let log = Mutex<[String]>([])
    private let crashed = Mutex(false)

    init(device: FakeDevice, failIn: Set<String> = []) {
        self.device = device
        self.failIn = failIn
    }

    var calls: [String] { log.withLock { $0 } }

    /// After a simulated crash, effects do nothing (and their outcomes go nowhere).
    func crash() { crashed.withLock { $0 = true } }

    private func step(_ name: String) throws(UpdateFailure) -> Bool {
        if crashed.withLock({ $0 }) { return false }
        log.withLock { $0.append(name) }
        if failIn.contains(name) { throw UpdateFailure(.verificationFailed, "\(name) failed on purpose") }
        return true
    }

    func activeVersion(of model: String) async -> String? { device.active[model] }
    func download(_ plan: UpdatePlan) async throws(UpdateFailure) { _ = try step("download") }
    func verifyAndStage(_ plan: UpdatePlan) async throws(UpdateFailure) {
        if try step("verify") { device.state.withLock { _ = $0.staged.insert(plan.modelVersion) } }
    }
    func swapIn(_ plan: UpdatePlan) async throws(UpdateFailure) {
        if try step("swapIn") { device.state.withLock { $0.active[plan.modelName] = plan.modelVersion } }
    }
    func watch(_ plan: UpdatePlan) async throws(UpdateFailure) { _ = try step("watch") }
    func swapBack(_ plan: UpdatePlan) async throws(UpdateFailure) {
        if try step("swapBack") {
            device.state.withLock {
                $0.active[plan.modelName] = plan.previousVersion
                $0.failed.insert(plan.modelVersion)
            }
        }
    }
    func commit(_ plan: UpdatePlan) async { _ = try? step("commit") }
    func discard(_ plan: UpdatePlan) async { _ = try? step("discard") }
}

/// Collects reported events.
final class UpdateEventLog: Sendable {
    private let events = Mutex<[DeviceEvent]>([])
    var all: [DeviceEvent] { events.withLock { $0 } }
    func append(_ event: DeviceEvent) { events.withLock { $0.append(event) } }
}

@Suite("Update runner")
struct UpdateRunnerTests {
    static func plan(_ version: String, id: String = "as-1", package: Character = "b") -> UpdatePlan {
        UpdatePlan(
            assignmentId: id, issuedAt: 10, modelName: "digits", modelVersion: version,
            packageId: String(repeating: package, count: 64), packageSize: 1000)
    }

    static func device(active version: String = "1.0.0") -> FakeDevice {
        let device = FakeDevice()
        device.state.withLock { $0.active["digits"] = version }
        return device
    }

    @Test("an assignment runs to committed; the journal, the events and the effects follow the same path")
    func happyPath() async throws {
        try await withStore { store, _ in
            let device = Self.device()
            let effects = FakeEffects(device: device)
            let events = UpdateEventLog()
            let runner = UpdateRunner(store: store, effects: effects, report: { events.append($0) })
            try await runner.start()
            await runner.submit(Self.plan("1.1.0"))
            await runner.waitUntilSettled()
            #expect(await runner.state == .committed)
            #expect(await runner.plan?.previousVersion == "1.0.0")
            let path: [UpdateState] = [.downloading, .verifying, .staged, .activating, .probation, .committed]
            let journal = try await store.journalEntries()
            #expect(journal.map(\.toState) == path.map(\.rawValue))
            #expect(journal.first?.fromState == "idle")
            #expect(events.all.map { $0.phase } == path.map(\.phase))
            #expect(events.all.allSatisfy { $0.modelVersion == "1.1.0" && $0.error == nil })
            #expect(effects.calls == ["download", "verify", "swapIn", "watch", "commit"])
            #expect(device.active["digits"] == "1.1.0")
            await runner.stop()
        }
    }

    @Test("a package that fails verification ends failed: discarded, the old model never stopped serving")
    func verificationFailure() async throws {
        try await withStore { store, _ in
            let device = Self.device()
            let effects = FakeEffects(device: device, failIn: ["verify"])
            let events = UpdateEventLog()
            let runner = UpdateRunner(store: store, effects: effects, report: { events.append($0) })
            try await runner.start()
            await runner.submit(Self.plan("1.1.0"))
            await runner.waitUntilSettled()
            #expect(await runner.state == .failed)
            #expect(effects.calls == ["download", "verify", "discard"])
            #expect(device.active["digits"] == "1.0.0")
            let last = try #require(events.all.last)
            #expect(last.phase == .failed && last.error == .verificationFailed)
            #expect(last.reason?.contains("verify failed on purpose") == true)
            await runner.stop()
        }
    }

    @Test("a model failing probation is rolled back to the previous version")
    func probationFailure() async throws {
        try await withStore { store, _ in
            let device = Self.device()
            let effects = FakeEffects(device: device, failIn: ["watch"])
            let events = UpdateEventLog()
            let runner = UpdateRunner(store: store, effects: effects, report: { events.append($0) })
            try await runner.start()
            await runner.submit(Self.plan("1.1.0"))
            await runner.waitUntilSettled()
            #expect(await runner.state == .rolledBack)
            #expect(effects.calls == ["download", "verify", "swapIn", "watch", "swapBack", "discard"])
            #expect(device.active["digits"] == "1.0.0")
            #expect(events.all.map(\.phase).suffix(2) == [.rollingBack, .rolledBack])
            await runner.stop()
        }
    }

    @Test("an assignment arriving during an update waits, then runs against the version the first one committed")
    func queuedAssignment() async throws {
        try await withStore { store, _ in
            let device = Self.device()
            let effects = FakeEffects(device: device)
            let gate = Mutex(true)
            let runner = UpdateRunner(
                store: store, effects: effects, report: { _ in },
                observer: { state, _ in
                    // Hold the first update in probation until the second assignment is in.
                    while state == .probation && gate.withLock({ $0 }) { try? await Task.sleep(for: .milliseconds(1)) }
                })
            try await runner.start()
            await runner.submit(Self.plan("1.1.0"))
            while await runner.state != .probation { try await Task.sleep(for: .milliseconds(1)) }
            await runner.submit(Self.plan("1.2.0", id: "as-2", package: "c"))
            gate.withLock { $0 = false }
            await runner.waitUntilSettled()
            #expect(await runner.state == .committed)
            #expect(await runner.plan?.modelVersion == "1.2.0")
            #expect(await runner.plan?.previousVersion == "1.1.0")
            #expect(device.active["digits"] == "1.2.0")
            #expect(try await store.journalEntries().filter { $0.toState == "committed" }.count == 2)
            await runner.stop()
        }
    }

    @Test(
        "a rollback order queued behind the update it undoes: skipped once that update fails, installed once it commits",
        arguments: [true, false])
    func rollbackQueuedBehindUpdate(probationFails: Bool) async throws {
        try await withStore { store, _ in
            let device = Self.device()
            let effects = FakeEffects(device: device, failIn: probationFails ? ["watch"] : [])
            let gate = Mutex(true)
            let runner = UpdateRunner(
                store: store, effects: effects, report: { _ in },
                observer: { state, _ in
                    while state == .probation && gate.withLock({ $0 }) { try? await Task.sleep(for: .milliseconds(1)) }
                })
            try await runner.start()
            await runner.submit(Self.plan("2.0.0"))
            while await runner.state != .probation { try await Task.sleep(for: .milliseconds(1)) }
            // Accepted by the gate while 1.0.0 was still the previous version.
            await runner.submit(Self.plan("1.0.0", id: "as-r", package: "c"))
            gate.withLock { $0 = false }
            await runner.waitUntilSettled()
            #expect(device.active["digits"] == "1.0.0")
            if probationFails {
                #expect(await runner.state == .rolledBack)
                #expect(await runner.plan?.modelVersion == "2.0.0")
                #expect(effects.calls.filter { $0 == "download" }.count == 1)
            } else {
                #expect(await runner.state == .committed)
                #expect(await runner.plan?.modelVersion == "1.0.0")
                #expect(await runner.plan?.previousVersion == "2.0.0")
            }
            await runner.stop()
        }
    }

    /// Where an update stopped by a crash in each state ends after a restart.
    static let crashes: [(UpdateState, UpdateState)] = [
        (.downloading, .committed), (.verifying, .committed), (.staged, .committed),
        (.activating, .rolledBack), (.probation, .rolledBack), (.rollingBack, .rolledBack),
    ]

    @Test("a crash in every state: the restarted runner ends with the old or the new model committed", arguments: 0..<crashes.count)
    func crashInEveryState(index: Int) async throws {
        let (crashState, expected) = Self.crashes[index]
        try await withStore { store, _ in
            let device = Self.device()
            // Reaching rollingBack takes a failed probation.
            let first = FakeEffects(device: device, failIn: crashState == .rollingBack ? ["watch"] : [])
            let reached = Mutex(false)
            let runner = UpdateRunner(
                store: store, effects: first, report: { _ in },
                observer: { state, _ in
                    guard state == crashState else { return }
                    first.crash()
                    reached.withLock { $0 = true }
                    try? await Task.sleep(for: .seconds(3600))
                })
            try await runner.start()
            await runner.submit(Self.plan("1.1.0"))
            while !reached.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(1)) }
            await runner.stop()
            #expect(try await store.latestJournalEntry()?.toState == crashState.rawValue)

            let events = UpdateEventLog()
            let second = FakeEffects(device: device)
            let restarted = UpdateRunner(store: store, effects: second, report: { events.append($0) })
            let recovered = try await restarted.start()
            #expect(recovered == crashState)
            await restarted.waitUntilSettled()
            #expect(await restarted.state == expected)
            #expect(try await store.latestJournalEntry()?.toState == expected.rawValue)
            #expect(device.active["digits"] == (expected == .committed ? "1.1.0" : "1.0.0"))
            if crashState == .activating || crashState == .probation {
                #expect(events.all.first?.error == .crashLoop)
            }
            await restarted.stop()
        }
    }
}
