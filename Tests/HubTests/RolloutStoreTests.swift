import Testing

@testable import Hub

@Suite("Rollout store")
struct RolloutStoreTests {
    static func record(_ id: String, at time: Int64) -> RolloutRecord {
        RolloutRecord(
            id: id, model: "digits", candidate: "2.0.0", baseline: "1.0.0", selector: "tier=canary",
            plan: RolloutMachineTests.plan(), salt: "salt-\(id)", createdAt: time, createdBy: "alice")
    }

    @Test("a rollout is stored with its plan and state, moves by compare-and-set, is audited, and survives a restart")
    func storeAndResume() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/hub.sqlite"
            let change = ChangeContext(subject: "alice", time: 1_000)
            do {
                let database = try await HubStore.open(path: path)
                defer { database.close() }
                let store = SQLiteHubStore(database)
                try await store.insertRollout(Self.record("ro-1", at: 1_000), change: change)
                try await store.insertRollout(Self.record("ro-2", at: 2_000), change: change)
                await #expect(throws: HubStoreError.self) { try await store.insertRollout(Self.record("ro-1", at: 3_000), change: change) }

                let (observing, _) = RolloutMachine.transition(.pending, .start(now: 5_000), plan: RolloutMachineTests.plan())
                let moved = try await store.updateRolloutState(
                    id: "ro-1", from: .pending, to: observing, change: ChangeContext(subject: "hub", time: 5_000))
                #expect(moved.state == .observing(phase: 0, since: 5_000) && moved.updatedAt == 5_000)
                let stale = await #expect(throws: HubStoreError.self) {
                    try await store.updateRolloutState(id: "ro-1", from: .pending, to: .completed, change: change)
                }
                #expect(stale?.code == .conflict)
                _ = try await store.updateRolloutState(id: "ro-2", from: .pending, to: .rolledBack(reason: "aborted"), change: change)
                let audit = try await store.auditEntries(filter: AuditFilter(target: "rollout/ro-1"), page: PageRequest(limit: 50))
                #expect(Set(audit.items.map(\.action)) == [.rolloutCreated, .rolloutStateChanged])
            }
            // A restarted hub reads the same rollouts and knows which it must still drive.
            let database = try await HubStore.open(path: path)
            defer { database.close() }
            let store = SQLiteHubStore(database)
            let active = try await store.rollouts(activeOnly: true)
            #expect(active.map(\.id) == ["ro-1"])
            #expect(active.first?.state == .observing(phase: 0, since: 5_000))
            #expect(active.first?.plan == RolloutMachineTests.plan())
            #expect(try await store.rollouts(activeOnly: false).map(\.id) == ["ro-2", "ro-1"])
        }
    }
}
