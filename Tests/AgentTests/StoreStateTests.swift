import Testing

@testable import Agent

@Suite("Store state tables")
struct StoreStateTests {
    static let digest = String(repeating: "ab", count: 32)

    @Test("the update journal appends in order and reads the latest entry per package")
    func journal() async throws {
        try await withStore { store, _ in
            #expect(try await store.latestJournalEntry() == nil)
            let first = try await store.appendJournal(packageID: "p1", from: nil, to: "downloading", time: 10)
            let second = try await store.appendJournal(
                packageID: "p1", from: "downloading", to: "verifying", detail: "{\"chunks\":4}", time: 11)
            try await store.appendJournal(packageID: "p2", from: nil, to: "downloading", time: 12)
            #expect(second > first)
            let latest = try #require(try await store.latestJournalEntry(packageID: "p1"))
            #expect(latest.fromState == "downloading" && latest.toState == "verifying" && latest.detail == "{\"chunks\":4}")
            #expect(try await store.latestJournalEntry()?.packageID == "p2")
            #expect(try await store.journalEntries(packageID: "p1").map(\.toState) == ["downloading", "verifying"])
            let error = await #expect(throws: StoreError.self) {
                try await store.appendJournal(packageID: "", from: nil, to: "x")
            }
            #expect(error?.code == .invalidRecord)
        }
    }

    @Test("installed models: activating one version demotes the active one to previous")
    func installedModels() async throws {
        try await withStore { store, _ in
            let v1 = InstalledModel(
                name: "digits", version: "1.0.0", path: "models/a", digest: Self.digest, state: .active, installed: 1)
            var v2 = v1
            v2.version = "1.1.0"
            v2.path = "models/b"
            v2.state = .staged
            v2.installed = 2
            try await store.saveInstalledModel(v1)
            try await store.saveInstalledModel(v2)
            #expect(try await store.activeModel(name: "digits")?.version == "1.0.0")
            #expect(try await store.setModelState(name: "digits", version: "1.1.0", to: .active))
            #expect(try await store.installedModels(name: "digits").map(\.state) == [.previous, .active])
            #expect(try await store.setModelState(name: "digits", version: "9.9.9", to: .active) == false)
            #expect(try await store.activeModel(name: "digits")?.version == "1.1.0")
            #expect(try await store.removeInstalledModel(name: "digits", version: "1.0.0"))
            #expect(try await store.installedModels().count == 1)
            var bad = v1
            bad.digest = "XYZ"
            let error = await #expect(throws: StoreError.self) { try await store.saveInstalledModel(bad) }
            #expect(error?.code == .invalidRecord)
        }
    }

    @Test("drift windows are replaced by start, listed until reported, and deleted once reported and old")
    func driftWindows() async throws {
        try await withStore { store, _ in
            var window = DriftWindow(modelName: "digits", modelVersion: "1.0.0", start: 0, end: 60, sketch: "{\"n\":1}")
            try await store.saveDriftWindow(window)
            window.end = 120
            window.sketch = "{\"n\":2}"
            try await store.saveDriftWindow(window)
            try await store.saveDriftWindow(
                DriftWindow(modelName: "digits", modelVersion: "1.0.0", start: 120, end: 180, sketch: "{}"))
            #expect(try await store.driftWindows(modelName: "digits").map(\.sketch) == ["{\"n\":2}", "{}"])
            try await store.markDriftWindowReported(modelName: "digits", modelVersion: "1.0.0", start: 0)
            #expect(try await store.unreportedDriftWindows().map(\.start) == [120])
            #expect(try await store.deleteReportedDriftWindows(endedBefore: 1000) == 1)
            #expect(try await store.driftWindows(modelName: "digits").count == 1)
            let empty = await #expect(throws: StoreError.self) {
                try await store.saveDriftWindow(DriftWindow(modelName: "d", modelVersion: "1", start: 5, end: 5, sketch: "{}"))
            }
            #expect(empty?.code == .invalidRecord)
            await #expect(throws: StoreError.self) {
                try await store.saveDriftWindow(
                    DriftWindow(modelName: "d", modelVersion: "1", start: 5, end: 6, sketch: "not json"))
            }
        }
    }

    @Test("federated rounds are saved, replaced and listed by status")
    func federatedRounds() async throws {
        try await withStore { store, _ in
            try await store.saveFederatedRound(
                FederatedRoundState(roundID: "r1", status: "training", updated: 1, state: "{\"epoch\":1}"))
            try await store.saveFederatedRound(FederatedRoundState(roundID: "r2", status: "sent", updated: 2))
            try await store.saveFederatedRound(
                FederatedRoundState(roundID: "r1", status: "sent", updated: 3, state: "{\"epoch\":2}"))
            #expect(try await store.federatedRound("r1")?.state == "{\"epoch\":2}")
            #expect(try await store.federatedRounds(status: "sent").map(\.roundID) == ["r1", "r2"])
            #expect(try await store.federatedRounds(status: "training").isEmpty)
            #expect(try await store.federatedRound("r9") == nil)
            await #expect(throws: StoreError.self) {
                try await store.saveFederatedRound(FederatedRoundState(roundID: "r3", status: "x", updated: 1, state: "{"))
            }
        }
    }
}
