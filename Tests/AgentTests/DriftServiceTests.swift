import Core
import Testing

@testable import Agent

/// The service on a real SQLite file in a temporary directory.
@Suite("Drift service")
struct DriftServiceTests {
    static let t0 = DriftFixtures.t0
    static let device = DeviceID(unchecked: "pi-7")
    static let configuration = DriftConfiguration(windowLength: .seconds(60))

    private func service(_ store: AgentStore, _ time: DriftTime) throws -> DriftService {
        try DriftService(
            store: store, device: Self.device, configuration: Self.configuration, now: time.clock, clock: ManualClock())
    }

    private func observe(_ recorder: DriftRecorder?, rows: Int, value: Float = 0.25) throws {
        let recorder = try #require(recorder)
        recorder.observe(
            feeds: [[Float](repeating: value, count: rows * 2)], rows: rows,
            outputs: DriftFixtures.outputs([Float](repeating: 1, count: rows * 3), rows: rows))
    }

    /// The drift reports in the outbox, decoded and validated.
    private func outboxReports(_ store: AgentStore) async throws -> [DriftReport] {
        try await store.pendingOutbox(limit: 100).map { entry in
            #expect(entry.kind == .drift)
            #expect(entry.topic == Topic.drift(Self.device).name)
            let report = try MessageCodec.decode(DriftReport.self, from: entry.payload)
            try report.validate()
            #expect(report.id == entry.id)
            return report
        }
    }

    @Test("each closed window becomes one DriftReport in the outbox and a reported row")
    func closedWindowsAreReported() async throws {
        try await withStore { store, _ in
            let time = DriftTime(Self.t0)
            let service = try service(store, time)
            let recorder = try service.recorder(name: "tiny", version: "1", model: DriftFixtures.model(inputs: 2, outputs: 3))
            try observe(recorder, rows: 3)
            time.set(Self.t0 + 61_000)
            try observe(recorder, rows: 2)
            time.set(Self.t0 + 125_000)
            let tick = await service.tick()
            #expect(tick.reported == 2 && tick.errors.isEmpty)
            let reports = try await outboxReports(store)
            #expect(
                reports.map { [$0.windowStart, $0.windowEnd] } == [
                    [Self.t0, Self.t0 + 60_000], [Self.t0 + 60_000, Self.t0 + 120_000],
                ])
            // Every score is 1: a tie goes to the first class, as numpy's argmax does.
            #expect(reports.map(\.predictions?.counts) == [[3, 0, 0], [2, 0, 0]])
            #expect(reports[0].modelName.rawValue == "tiny" && reports[0].modelVersion == "1")
            #expect(reports[0].features.map(\.name) == ["input[0]", "input[1]"])
            #expect(Set(reports.map(\.id)).count == 2)
            let rows = try await store.driftWindows(modelName: "tiny")
            #expect(rows.map(\.reported) == [true, true])
            #expect(try await store.unreportedDriftWindows().isEmpty)
            #expect(await service.tick().reported == 0)
            #expect(try await store.outboxCount() == 2)
        }
    }

    @Test("a new version of a model closes the old version's window")
    func versionChangeClosesWindow() async throws {
        try await withStore { store, _ in
            let time = DriftTime(Self.t0)
            let service = try service(store, time)
            let model = DriftFixtures.model(inputs: 2, outputs: 3)
            let v1 = try service.recorder(name: "tiny", version: "1", model: model)
            #expect(try service.recorder(name: "tiny", version: "1", model: model) === v1)
            try observe(v1, rows: 4)
            time.set(Self.t0 + 15_000)
            let v2 = try service.recorder(name: "tiny", version: "2", model: model)
            try observe(v2, rows: 1)
            #expect(service.recorders.count == 2)
            await service.tick()
            let reports = try await outboxReports(store)
            #expect(reports.map(\.modelVersion) == ["1"])
            #expect(reports.first?.windowEnd == Self.t0 + 15_000)
            #expect(service.recorders.map(\.modelVersion) == ["2"])
            await service.flush()
            #expect(try await outboxReports(store).map(\.modelVersion) == ["1", "2"])
        }
    }

    @Test("windows survive closing and reopening the store: a checkpointed window is reported by recover")
    func checkpointSurvivesRestart() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = StoreConfiguration(path: "\(directory)/agent.sqlite", now: { Self.t0 })
            let time = DriftTime(Self.t0)
            var first = try await AgentStore.open(configuration)
            let service = try service(first, time)
            try observe(
                try service.recorder(name: "tiny", version: "1", model: DriftFixtures.model(inputs: 2, outputs: 3)), rows: 5)
            time.set(Self.t0 + 30_000)
            #expect(await service.tick().checkpointed == 1)
            let saved = try SketchedWindow(try #require(try await first.unreportedDriftWindows().first))
            // The process stops without a flush (a crash): only the checkpoint is on disk.
            await first.close()

            first = try await AgentStore.open(configuration)
            let rows = try await first.unreportedDriftWindows()
            #expect(rows.count == 1)
            let reread = try SketchedWindow(rows[0])
            #expect(reread == saved)
            #expect(reread.end == Self.t0 + 30_000 && reread.sketches.rows == 5)
            let restarted = try self.service(first, DriftTime(Self.t0 + 90_000))
            #expect(await restarted.recover().reported == 1)
            let reports = try await outboxReports(first)
            #expect(reports.map(\.features) == [saved.sketches.features])
            #expect(try await first.unreportedDriftWindows().isEmpty)
            await first.close()
        }
    }

    @Test("flush on shutdown reports the partial window; it is still there after a reopen")
    func flushPersistsPartialWindow() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = StoreConfiguration(path: "\(directory)/agent.sqlite", now: { Self.t0 })
            let time = DriftTime(Self.t0 + 1_000)
            var store = try await AgentStore.open(configuration)
            let service = try service(store, time)
            try observe(
                try service.recorder(name: "tiny", version: "1", model: DriftFixtures.model(inputs: 2, outputs: 3)), rows: 2,
                value: .nan)
            time.set(Self.t0 + 7_000)
            let flushed = await service.flush()
            #expect(flushed.reported == 1 && flushed.errors.isEmpty)
            await store.close()

            store = try await AgentStore.open(configuration)
            let rows = try await store.driftWindows(modelName: "tiny")
            #expect(rows.map { [$0.start, $0.end] } == [[Self.t0 + 1_000, Self.t0 + 7_000]])
            #expect(rows.map(\.reported) == [true])
            let window = try SketchedWindow(rows[0])
            #expect(window.sketches.features.map(\.sketch.missing) == [2, 2])
            #expect(window.sketches.features.allSatisfy { $0.sketch.min == nil && $0.sketch.count == 0 })
            #expect(try await outboxReports(store).count == 1)
            await store.close()
        }
    }

    @Test("a stored window whose sketches cannot be read is marked reported by recover, not retried forever")
    func corruptWindow() async throws {
        try await withStore { store, _ in
            try await store.saveDriftWindow(DriftWindow(modelName: "tiny", modelVersion: "1", start: 1, end: 2, sketch: "{}"))
            let service = try service(store, DriftTime(Self.t0))
            let result = await service.recover()
            #expect(result.errors.map(\.code) == [.corruptWindow])
            #expect(try await store.unreportedDriftWindows().isEmpty)
            #expect(try await store.outboxCount() == 0)
        }
    }

    @Test("run reports due windows on each flush tick of its clock and flushes the open window when cancelled")
    func runLoop() async throws {
        try await withStore { store, _ in
            let time = DriftTime(Self.t0)
            let clock = ManualClock()
            let service = try DriftService(
                store: store, device: Self.device, configuration: Self.configuration, now: time.clock, clock: clock)
            let recorder = try service.recorder(name: "tiny", version: "1", model: DriftFixtures.model(inputs: 2, outputs: 3))
            let task = Task { await service.run() }
            try observe(recorder, rows: 2)
            time.set(Self.t0 + 60_000)
            try observe(recorder, rows: 1)
            while clock.sleeperCount == 0 { await Task.yield() }
            clock.advance(by: Self.configuration.flushInterval)
            while try await store.outboxCount() < 1 { await Task.yield() }
            task.cancel()
            await task.value
            let windows = try await outboxReports(store).map { [$0.windowStart, $0.windowEnd] }
            #expect(windows == [[Self.t0, Self.t0 + 60_000], [Self.t0 + 60_000, Self.t0 + 60_001]])
        }
    }

    @Test("drift disabled hands out no recorders")
    func disabled() async throws {
        try await withStore { store, _ in
            let service = try DriftService(
                store: store, device: Self.device, configuration: DriftConfiguration(enabled: false), clock: ManualClock())
            #expect(try service.recorder(name: "tiny", version: "1", model: DriftFixtures.model(inputs: 1, outputs: 2)) == nil)
        }
    }
}
