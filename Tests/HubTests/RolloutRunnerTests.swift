import Core
import Foundation
import Synchronization
import Testing

@testable import Hub

/// The rollout runner on a real hub store and the in-memory broker: devices are enrolled and
/// report through the fleet monitor as agents would; assignments are read back from the broker's
/// retained messages.
@Suite("Rollout runner")
struct RolloutRunnerTests {
    struct Fleet {
        let services: HubServices
        let clock: TestClock
        let broker: InMemoryBroker
        let devices: [String]

        var runner: RolloutRunner { services.rollouts }

        /// The retained assignment of `device`, if any.
        func assignment(_ device: String) async throws -> Assignment? {
            guard let message = await broker.retainedMessage(on: Topic.assignment(try DeviceID(device)).name),
                !message.payload.isEmpty
            else { return nil }
            // Verified with the hub key: what an agent checks first.
            return try SignedMessage<Assignment>(decoding: message.payload).verified(
                with: services.registry.signingKey.privateKey.publicKey)
        }

        /// `device` reports `version` online and a telemetry window with these numbers.
        func report(_ device: String, version: String, errorRate: Double = 0.01, p95: Double = 2, accuracy: Double = 0.95)
            async throws
        {
            let id = try DeviceID(device)
            let time = clock.now()
            let model = ModelName(unchecked: "digits")
            await services.monitor.handle(
                try Topic.status(id).message(
                    DeviceStatus(
                        id: "s-\(device)-\(time)", time: time, state: .online, agentVersion: "0.5.0",
                        firmwareProfile: "generic-linux", modelName: model, modelVersion: version)))
            await services.monitor.handle(
                try Topic.telemetry(id).message(
                    Telemetry(
                        id: "t-\(device)-\(time)", time: time, windowMs: 60_000, modelName: model, modelVersion: version,
                        predictions: 500, errorRate: errorRate, latencyP50Ms: p95 / 2, latencyP95Ms: p95, feedbackCount: 100,
                        feedbackAccuracy: accuracy, cpuPercent: 5, rssBytes: 20 << 20, diskUsedBytes: 1 << 20)))
        }

        /// Every device reports what its assignment says (or `initial`), the candidate with `candidate` numbers.
        func everyoneReports(initial: String, candidateVersion: String, candidate: (Double, Double, Double)) async throws {
            for device in devices {
                let version = try await assignment(device)?.modelVersion ?? initial
                if version == candidateVersion {
                    try await report(device, version: version, errorRate: candidate.0, p95: candidate.1, accuracy: candidate.2)
                } else {
                    try await report(device, version: version)
                }
            }
        }
    }

    static func withFleet(
        count: Int = 8, directory: String? = nil, settings: RolloutRunner.Settings = RolloutRunner.Settings(),
        wrap: (InMemoryTransport) -> any MessageTransport = { $0 }, _ body: (Fleet) async throws -> Void
    ) async throws {
        try await withTemporaryDirectory { temporary in
            let clock = TestClock()
            let broker = InMemoryBroker()
            let transport = InMemoryTransport(broker: broker, clientID: "hub")
            try await transport.connect()
            var configuration = HubConfiguration(dataDirectory: (directory ?? temporary) + "/data", now: { clock.now() })
            configuration.registry.chunkSize = 4096
            configuration.rollouts = settings
            let services = try await HubServices.open(configuration, transport: wrap(transport))
            defer { services.close() }
            var devices: [String] = []
            for index in 0..<count {
                let id = String(format: "dev-%02d", index)
                try await services.fleet.enroll(
                    device: id, labels: ["site": index % 2 == 0 ? "north" : "south"], profile: "generic-linux",
                    by: HubFixture.alice)
                devices.append(id)
            }
            if (try? await services.registry.model(named: "digits")) == nil {
                try await services.registry.createModel(name: "digits", by: HubFixture.alice)
                for (index, version) in ["1.0.0", "2.0.0"].enumerated() {
                    try await services.registry.registerVersion(
                        model: "digits", version: SemanticVersion(version)!,
                        modelFile: ModelFixtures.model(seed: UInt64(index + 1)), by: HubFixture.alice)
                }
            }
            try await body(Fleet(services: services, clock: clock, broker: broker, devices: devices))
        }
    }

    static let gates = ["error_rate <= baseline + 0.01", "p95_latency <= 1.5 * baseline", "accuracy >= baseline - 0.02"]

    @Test("creating while the runner ticks answers the rollout it created, never a conflict with itself")
    func createWhileTicking() async throws {
        try await Self.withFleet { fleet in
            try await fleet.everyoneReports(initial: "1.0.0", candidateVersion: "2.0.0", candidate: (0.01, 2, 0.95))
            let runner = fleet.runner
            let ticker = Task {
                while !Task.isCancelled {
                    await runner.tick()
                    await Task.yield()
                }
            }
            defer { ticker.cancel() }
            for _ in 0..<10 {
                let created = try await runner.create(
                    RolloutRequest(
                        model: "digits", version: "2.0.0", target: "site in (north,south)", phases: "25%,100%",
                        gates: Self.gates, minDevices: 2, observe: "1m"),
                    by: HubFixture.alice)
                #expect(created.record.state != .pending)
                // An operator's command may meet a tick that moved the rollout first (409: read it
                // again); it applies on the next try.
                for attempt in 1...20 {
                    do {
                        _ = try await runner.command(.abort, id: created.record.id, reason: nil, by: HubFixture.alice)
                        break
                    } catch let error as RolloutError where error.code == .conflict && attempt < 20 {
                        continue
                    }
                }
            }
        }
    }

    @Test("a healthy candidate goes canary → 50% → all, the same devices staying on it as it grows")
    func promotesThroughPhases() async throws {
        try await Self.withFleet { fleet in
            try await fleet.everyoneReports(initial: "1.0.0", candidateVersion: "2.0.0", candidate: (0.01, 2, 0.95))
            let created = try await fleet.runner.create(
                RolloutRequest(
                    model: "digits", version: "2.0.0", target: "site in (north,south)", phases: "25%,50%,100%",
                    gates: Self.gates, minDevices: 2, observe: "1m"),
                by: HubFixture.alice)
            #expect(created.record.baseline == "1.0.0")  // the version the devices run
            #expect(created.record.state == .observing(phase: 0, since: created.record.createdAt))
            var assigned = try await Self.onCandidate(fleet)
            #expect(assigned.count == 2 && created.progress.assigned == 2 && created.progress.target == 8)
            let canary = assigned
            for device in assigned {
                let assignment = try #require(try await fleet.assignment(device))
                #expect(assignment.rolloutId == created.record.id && !assignment.allowDowngrade)
                #expect(assignment.packageId == (try await fleet.services.registry.version(model: "digits", version: SemanticVersion(2, 0, 0))).packageId)
            }
            // Within the window nothing moves, however good the numbers.
            try await fleet.everyoneReports(initial: "1.0.0", candidateVersion: "2.0.0", candidate: (0.01, 2, 0.95))
            await fleet.runner.tick()
            #expect(try await Self.state(fleet, created) == .observing(phase: 0, since: created.record.createdAt))
            fleet.clock.advance(byMilliseconds: 61_000)
            try await fleet.everyoneReports(initial: "1.0.0", candidateVersion: "2.0.0", candidate: (0.01, 2, 0.95))
            await fleet.runner.tick()
            guard case .observing(1, _) = try await Self.state(fleet, created) else {
                Issue.record("phase 2 did not start")
                return
            }
            assigned = try await Self.onCandidate(fleet)
            #expect(assigned.count == 4 && canary.isSubset(of: assigned))
            fleet.clock.advance(byMilliseconds: 61_000)
            try await fleet.everyoneReports(initial: "1.0.0", candidateVersion: "2.0.0", candidate: (0.01, 2, 0.95))
            await fleet.runner.tick()
            fleet.clock.advance(byMilliseconds: 61_000)
            try await fleet.everyoneReports(initial: "1.0.0", candidateVersion: "2.0.0", candidate: (0.01, 2, 0.95))
            await fleet.runner.tick()
            #expect(try await Self.state(fleet, created) == .completed)
            #expect(try await Self.onCandidate(fleet).count == 8)
            let view = try await fleet.runner.view(id: created.record.id, by: HubFixture.viewer)
            #expect(view.progress.onCandidate == 8 && view.progress.assigned == 8)
            #expect(view.events.contains { $0.text.hasPrefix("phase 3 started") })
            #expect(view.events.contains { $0.text.hasPrefix("completed") })
            // /metrics: fleet aggregates, no per-device labels.
            let metrics = await FleetAggregates.exposition(fleet.services)
            #expect(metrics.contains("starling_hub_devices_by_version{model=\"digits\",version=\"2.0.0\"} 8\n"))
            #expect(metrics.contains("starling_hub_devices{presence=\"online\"} 8\n"))
            #expect(metrics.contains("starling_hub_rollouts{state=\"completed\"} 1\n"))
            #expect(!metrics.contains("dev-0"))
        }
    }

    @Test("a regressed candidate is rolled back: every target device is assigned the baseline, downgrade allowed")
    func rollsBackOnRegression() async throws {
        try await Self.withFleet { fleet in
            try await fleet.everyoneReports(initial: "1.0.0", candidateVersion: "2.0.0", candidate: (0.01, 2, 0.95))
            let created = try await fleet.runner.create(
                RolloutRequest(
                    model: "digits", version: "2.0.0", target: "site in (north,south)", phases: "50%,100%",
                    gates: Self.gates, minDevices: 2, observe: "10m"),
                by: HubFixture.alice)
            // The candidate's accuracy drops by 0.3: the gate fails without waiting for the window.
            try await fleet.everyoneReports(initial: "1.0.0", candidateVersion: "2.0.0", candidate: (0.01, 2, 0.65))
            await fleet.runner.tick()
            guard case .rolledBack(let reason) = try await Self.state(fleet, created) else {
                Issue.record("not rolled back")
                return
            }
            #expect(reason.contains("accuracy"))
            for device in fleet.devices {
                let assignment = try #require(try await fleet.assignment(device))
                #expect(assignment.modelVersion == "1.0.0" && assignment.allowDowngrade)
            }
            // Finished: commands are refused with a clear error.
            await #expect(throws: RolloutError.self) {
                try await fleet.runner.command(.promote, id: created.record.id, reason: nil, by: HubFixture.alice)
            }
        }
    }

    @Test("a canary still on the candidate after the rollback is sent fresh rollback orders, a few at most")
    func resendsRollbackToStuckDevices() async throws {
        let settings = RolloutRunner.Settings(rollbackResendInterval: .seconds(60), rollbackResends: 2)
        try await Self.withFleet(settings: settings) { fleet in
            try await fleet.everyoneReports(initial: "1.0.0", candidateVersion: "2.0.0", candidate: (0.01, 2, 0.95))
            let created = try await fleet.runner.create(
                RolloutRequest(
                    model: "digits", version: "2.0.0", target: "site in (north,south)", phases: "25%,100%",
                    gates: Self.gates, minDevices: 2, observe: "10m"),
                by: HubFixture.alice)
            let canary = try await Self.onCandidate(fleet).sorted()
            #expect(canary.count == 2)
            try await fleet.everyoneReports(initial: "1.0.0", candidateVersion: "2.0.0", candidate: (0.01, 2, 0.65))
            await fleet.runner.tick()
            guard case .rolledBack = try await Self.state(fleet, created) else {
                Issue.record("not rolled back")
                return
            }
            var orders: [String: Assignment] = [:]
            for device in fleet.devices { orders[device] = try #require(try await fleet.assignment(device)) }

            /// Advances `seconds`, the canary reports `versions`, the others the baseline; one tick.
            func tick(after seconds: Int64, _ versions: [String]) async throws {
                fleet.clock.advance(byMilliseconds: seconds * 1000)
                for device in fleet.devices {
                    let index = canary.firstIndex(of: device)
                    try await fleet.report(device, version: index.map { versions[$0] } ?? "1.0.0")
                }
                await fleet.runner.tick()
            }
            /// The devices whose retained assignment changed since the last call.
            func reordered() async throws -> Set<String> {
                var changed: Set<String> = []
                for device in fleet.devices {
                    let now = try #require(try await fleet.assignment(device))
                    if now.id != orders[device]?.id {
                        changed.insert(device)
                        #expect(now.modelVersion == "1.0.0" && now.allowDowngrade && now.rolloutId == created.record.id)
                        #expect(now.issuedAt > orders[device]!.issuedAt)
                    }
                    orders[device] = now
                }
                return changed
            }

            // Within the interval the first order stands.
            try await tick(after: 30, ["2.0.0", "2.0.0"])
            #expect(try await reordered().isEmpty)
            // Still on 2.0.0 a minute after the order: a fresh one, to the canary only.
            try await tick(after: 31, ["2.0.0", "2.0.0"])
            #expect(try await reordered() == Set(canary))
            // The first canary obeys; the second is sent one more, then no more.
            try await tick(after: 61, ["1.0.0", "2.0.0"])
            #expect(try await reordered() == [canary[1]])
            try await tick(after: 61, ["1.0.0", "2.0.0"])
            #expect(try await reordered().isEmpty)
            try await tick(after: 61, ["1.0.0", "2.0.0"])
            #expect(try await reordered().isEmpty)
            let events = try await fleet.runner.view(id: created.record.id, by: HubFixture.viewer).events.map(\.text)
            #expect(events.filter { $0.hasPrefix("sent the rollback to 1.0.0 again") }.count == 2)
            #expect(events.contains { $0.contains("\(canary[1]) still runs 2.0.0 after 3 rollback orders") })
        }
    }

    @Test("create and ticks overlapping on a slow broker send each canary one candidate assignment")
    func noDuplicateAssignments() async throws {
        let recorder = PublishRecorder()
        try await Self.withFleet(wrap: { SlowTransport(base: $0, recorder: recorder) }) { fleet in
            try await fleet.everyoneReports(initial: "1.0.0", candidateVersion: "2.0.0", candidate: (0.01, 2, 0.95))
            let runner = fleet.runner
            let ticker = Task {
                while !Task.isCancelled {
                    await runner.tick()
                    await Task.yield()
                }
            }
            defer { ticker.cancel() }
            let key = fleet.services.registry.signingKey.privateKey.publicKey
            for _ in 0..<3 {
                let created = try await runner.create(
                    RolloutRequest(
                        model: "digits", version: "2.0.0", target: "site in (north,south)", phases: "25%,100%",
                        gates: Self.gates, minDevices: 2, observe: "10m"),
                    by: HubFixture.alice)
                try await Task.sleep(for: .milliseconds(100))
                var candidates: [String: Int] = [:]
                for (topic, payloads) in recorder.published {
                    for payload in payloads {
                        let assignment = try SignedMessage<Assignment>(decoding: payload).verified(with: key)
                        if assignment.rolloutId == created.record.id && assignment.modelVersion == "2.0.0" {
                            candidates[topic, default: 0] += 1
                        }
                    }
                }
                #expect(candidates.count == 2 && candidates.values.allSatisfy { $0 == 1 }, "\(candidates)")
                for attempt in 1...20 {
                    do {
                        _ = try await runner.command(.abort, id: created.record.id, reason: nil, by: HubFixture.alice)
                        break
                    } catch let error as RolloutError where error.code == .conflict && attempt < 20 {
                        continue
                    }
                }
            }
        }
    }

    @Test("pause on failure, then resume and promote by hand; viewers cannot command")
    func pauseResumePromote() async throws {
        try await Self.withFleet { fleet in
            try await fleet.everyoneReports(initial: "1.0.0", candidateVersion: "2.0.0", candidate: (0.01, 2, 0.95))
            let created = try await fleet.runner.create(
                RolloutRequest(
                    model: "digits", version: "2.0.0", target: "site=north", phases: "50%,100%", gates: Self.gates,
                    minDevices: 1, observe: "10m", onFail: "pause"),
                by: HubFixture.alice)
            #expect(created.progress.target == 4)
            try await fleet.everyoneReports(initial: "1.0.0", candidateVersion: "2.0.0", candidate: (0.2, 2, 0.95))
            await fleet.runner.tick()
            guard case .paused(0, let reason) = try await Self.state(fleet, created) else {
                Issue.record("not paused")
                return
            }
            #expect(reason.contains("error_rate"))
            await #expect(throws: AuthError.self) {
                try await fleet.runner.command(.resume, id: created.record.id, reason: nil, by: HubFixture.viewer)
            }
            _ = try await fleet.runner.command(.resume, id: created.record.id, reason: "fixed upstream", by: HubFixture.bob)
            let promoted = try await fleet.runner.command(.promote, id: created.record.id, reason: nil, by: HubFixture.bob)
            #expect(promoted.record.state.isFinished == false)
            guard case .observing(1, _) = promoted.record.state else {
                Issue.record("not in phase 2")
                return
            }
            // Only the north devices are targeted.
            for device in fleet.devices {
                let north = Int(device.suffix(2))! % 2 == 0
                #expect((try await fleet.assignment(device) != nil) == north, "\(device)")
            }
        }
    }

    @Test("creation checks: unknown version and group, a second active rollout, baseline gates without a baseline")
    func creationChecks() async throws {
        try await Self.withFleet { fleet in
            let runner = fleet.runner
            await #expect(throws: RolloutError.self) {
                try await runner.create(RolloutRequest(model: "digits", version: "9.0.0", target: "site=north"), by: HubFixture.alice)
            }
            await #expect(throws: RolloutError.self) {
                try await runner.create(RolloutRequest(model: "digits", version: "2.0.0", target: "group:nope"), by: HubFixture.alice)
            }
            // Nobody reports a version and there is no production alias: no baseline.
            let noBaseline = await #expect(throws: RolloutError.self) {
                try await runner.create(
                    RolloutRequest(model: "digits", version: "2.0.0", target: "site=north", gates: Self.gates),
                    by: HubFixture.alice)
            }
            #expect(noBaseline?.message.contains("baseline") == true)
            let first = try await runner.create(
                RolloutRequest(
                    model: "digits", version: "1.0.0", target: "site=north", phases: "100%", gates: ["error_rate <= 0.05"],
                    minDevices: 1, observe: "1m", onFail: "pause"),
                by: HubFixture.alice)
            #expect(first.record.baseline == nil)
            let second = await #expect(throws: RolloutError.self) {
                try await runner.create(
                    RolloutRequest(model: "digits", version: "2.0.0", target: "site=south", baseline: "1.0.0"),
                    by: HubFixture.alice)
            }
            #expect(second?.code == .conflict)
        }
    }

    @Test("an A/B split stays at its share while gates pass, with metrics per arm, until promoted")
    func abSplit() async throws {
        try await Self.withFleet { fleet in
            try await fleet.everyoneReports(initial: "1.0.0", candidateVersion: "2.0.0", candidate: (0.01, 2, 0.95))
            let created = try await fleet.runner.create(
                RolloutRequest(
                    model: "digits", version: "2.0.0", target: "site in (north,south)", gates: Self.gates, minDevices: 2,
                    observe: "1m", split: "50%"),
                by: HubFixture.alice)
            fleet.clock.advance(byMilliseconds: 120_000)
            try await fleet.everyoneReports(initial: "1.0.0", candidateVersion: "2.0.0", candidate: (0.012, 1.5, 0.97))
            await fleet.runner.tick()
            let view = try await fleet.runner.view(id: created.record.id, by: HubFixture.viewer)
            guard case .observing(0, _) = view.record.state else {
                Issue.record("an A/B split advanced by itself")
                return
            }
            #expect(view.progress.onCandidate == 4 && view.progress.onBaseline == 4)
            #expect(abs((view.health.candidate[.accuracy] ?? 0) - 0.97) < 1e-9)
            #expect(abs((view.health.baseline[.accuracy] ?? 0) - 0.95) < 1e-9)
            #expect(view.health.candidate[.p95Latency] == 1.5 && view.health.baseline[.p95Latency] == 2)
        }
    }

    @Test("a hub restarted mid-rollout resumes from the stored state and re-sends the phase's assignments")
    func resumesAfterRestart() async throws {
        try await withTemporaryDirectory { directory in
            var id = ""
            var canary: Set<String> = []
            try await Self.withFleet(directory: directory) { fleet in
                try await fleet.everyoneReports(initial: "1.0.0", candidateVersion: "2.0.0", candidate: (0.01, 2, 0.95))
                let created = try await fleet.runner.create(
                    RolloutRequest(
                        model: "digits", version: "2.0.0", target: "site in (north,south)", phases: "25%,100%",
                        gates: Self.gates, minDevices: 2, observe: "1m"),
                    by: HubFixture.alice)
                id = created.record.id
                canary = try await Self.onCandidate(fleet)
            }
            // A new hub process: new broker session (nothing retained survives in this broker), same data.
            let clock = TestClock()
            clock.advance(byMilliseconds: 120_000)
            let broker = InMemoryBroker()
            let transport = InMemoryTransport(broker: broker, clientID: "hub")
            try await transport.connect()
            let configuration = HubConfiguration(dataDirectory: directory + "/data", now: { clock.now() })
            let services = try await HubServices.open(configuration, transport: transport)
            defer { services.close() }
            try await services.monitor.restore()
            await services.rollouts.tick()
            let fleet = Fleet(services: services, clock: clock, broker: broker, devices: (0..<8).map { String(format: "dev-%02d", $0) })
            #expect(try await Self.onCandidate(fleet) == canary)
            try await fleet.everyoneReports(initial: "1.0.0", candidateVersion: "2.0.0", candidate: (0.01, 2, 0.95))
            await services.rollouts.tick()
            let view = try await services.rollouts.view(id: id, by: HubFixture.viewer)
            guard case .observing(1, _) = view.record.state else {
                Issue.record("the resumed rollout did not move on: \(view.record.state)")
                return
            }
            #expect(try await Self.onCandidate(fleet).count == 8)
        }
    }

    static func onCandidate(_ fleet: Fleet) async throws -> Set<String> {
        var result: Set<String> = []
        for device in fleet.devices where try await fleet.assignment(device)?.modelVersion == "2.0.0" { result.insert(device) }
        return result
    }

    static func state(_ fleet: Fleet, _ created: RolloutView) async throws -> RolloutState {
        try await fleet.runner.view(id: created.record.id, by: HubFixture.viewer).record.state
    }
}

/// A transport whose publishes take a few milliseconds and are recorded by topic: concurrent
/// reconciles then overlap inside the runner as they do on a real broker.
final class SlowTransport: MessageTransport {
    let base: InMemoryTransport
    let recorder: PublishRecorder

    init(base: InMemoryTransport, recorder: PublishRecorder) {
        self.base = base
        self.recorder = recorder
    }

    var clientID: String { base.clientID }
    var messages: AsyncStream<Message> { base.messages }
    var events: AsyncStream<TransportEvent> { base.events }
    func connect() async throws(TransportError) { try await base.connect() }
    func publish(_ message: Message) async throws(TransportError) {
        try? await Task.sleep(for: .milliseconds(5))
        try await base.publish(message)
        recorder.record(message)
    }
    func subscribe(_ filter: String, qos: QoS) async throws(TransportError) { try await base.subscribe(filter, qos: qos) }
    func unsubscribe(_ filter: String) async throws(TransportError) { try await base.unsubscribe(filter) }
    func close() async { await base.close() }
}

/// Payloads published, by topic.
final class PublishRecorder: Sendable {
    private let messages = Mutex<[String: [[UInt8]]]>([:])

    var published: [String: [[UInt8]]] { messages.withLock { $0 } }

    func record(_ message: Message) { messages.withLock { $0[message.topic, default: []].append(message.payload) } }
}
