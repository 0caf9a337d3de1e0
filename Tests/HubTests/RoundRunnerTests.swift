import Core
import Foundation
import Synchronization
import Testing

@testable import Hub

/// The round runner on a real hub store and the in-memory broker: enrolled devices (with the
/// keys their bundles carry) receive task frames over the broker, answer with the real client
/// code, and the hub aggregates, refuses what it must, survives a restart and registers the
/// result with its lineage.
@Suite("Federated round runner")
struct RoundRunnerTests {
    /// What each device received, by device id.
    final class Inbox: Sendable {
        let messages = Mutex<[String: [Message]]>([:])
    }

    final class Fleet: Sendable {
        let directory: String
        let clock: TestClock
        let broker: InMemoryBroker
        let devices: [String: SigningKey]
        let inbox: Inbox
        let listeners: [Task<Void, Never>]

        init(directory: String, clock: TestClock, broker: InMemoryBroker, devices: [String: SigningKey],
            inbox: Inbox, listeners: [Task<Void, Never>]) {
            self.directory = directory
            self.clock = clock
            self.broker = broker
            self.devices = devices
            self.inbox = inbox
            self.listeners = listeners
        }

        /// The task frames `device` received so far.
        func tasks(_ device: String) throws -> [FLTaskFrame] {
            try inbox.messages.withLock { $0[device] ?? [] }.map {
                do {
                    return try FLTaskFrame(parsing: $0.payload)
                } catch {
                    Issue.record("\(device) got \($0.payload.count) bytes on \($0.topic): \(error)")
                    throw error
                }
            }
        }

        /// Waits (bounded, to fail instead of hang) until every device in `ids` holds `count` tasks.
        func waitForTasks(_ ids: [String], count: Int) async throws {
            for _ in 0..<2_000 {
                if try ids.allSatisfy({ try tasks($0).count >= count }) { return }
                try await Task.sleep(for: .milliseconds(5))
            }
            Issue.record("devices did not receive task \(count)")
        }
    }

    static let model = "digits"

    /// Random rows for the fixture model (16 inputs, 4 classes), different per device.
    static func data(_ device: String) -> FederatedClient.LocalData {
        var random = RandomSource(seed: UInt64(abs(device.hashValue % 1000) + 1))
        let n = 40
        let x = (0..<(n * 16)).map { _ in random.uniform(0, 1) }
        let y = (0..<n).map { _ in random.below(4) }
        return .init(feeds: [ModelBuilder.inputName: Tensor(shape: [n, 16], scalars: x)], targets: .classes(y))
    }

    /// Opens a hub on `directory` (a fresh or an existing data directory).
    static func open(_ fleet: Fleet) async throws -> HubServices {
        let transport = InMemoryTransport(broker: fleet.broker, clientID: "hub")
        try await transport.connect()
        let clock = fleet.clock
        let configuration = HubConfiguration(dataDirectory: fleet.directory + "/data", now: { clock.now() })
        return try await HubServices.open(configuration, transport: transport)
    }

    static func withFleet(count: Int = 4, _ body: (Fleet, HubServices) async throws -> Void) async throws {
        try await withTemporaryDirectory { temporary in
            let clock = TestClock()
            let broker = InMemoryBroker()
            let transport = InMemoryTransport(broker: broker, clientID: "hub")
            try await transport.connect()
            let configuration = HubConfiguration(dataDirectory: temporary + "/data", now: { clock.now() })
            let services = try await HubServices.open(configuration, transport: transport)
            var keys: [String: SigningKey] = [:]
            let inbox = Inbox()
            var listeners: [Task<Void, Never>] = []
            for index in 0..<count {
                let id = "dev-\(index)"
                let bundle = try await services.fleet.enroll(
                    device: id, labels: ["site": "lab"], profile: "generic-linux", by: HubFixture.alice)
                let path = temporary + "/\(id).key"
                try FileIO.writeAtomically(bundle.deviceKey, to: path, mode: 0o600)
                keys[id] = try SigningKey.read(path: path)
                #expect(bundle.agent.device.keyFile?.hasSuffix("/device.key") == true)
                let device = InMemoryTransport(broker: broker, clientID: id)
                try await device.connect()
                try await device.subscribe(Topic.flTask(try DeviceID(id)).name, qos: .atLeastOnce)
                let messages = device.messages
                listeners.append(Task { for await m in messages { inbox.messages.withLock { $0[id, default: []].append(m) } } })
            }
            try await ModelFixtures.register(HubFixture(services: services, clock: clock, directory: temporary), version: "1.0.0")
            let fleet = Fleet(
                directory: temporary, clock: clock, broker: broker, devices: keys, inbox: inbox, listeners: listeners)
            defer { for l in listeners { l.cancel() } }
            try await online(fleet, services)
            do {
                try await body(fleet, services)
            } catch {
                services.close()
                throw error
            }
        }
    }

    /// Every device reports online, serving the model.
    static func online(_ fleet: Fleet, _ services: HubServices) async throws {
        for id in fleet.devices.keys.sorted() {
            let time = fleet.clock.now()
            await services.monitor.handle(
                try Topic.status(try DeviceID(id)).message(
                    DeviceStatus(
                        id: "s-\(id)-\(time)", time: time, state: .online, agentVersion: "0.6.0",
                        firmwareProfile: "generic-linux", modelName: ModelName(unchecked: model), modelVersion: "1.0.0")))
        }
    }

    /// `device` answers its latest task; returns the frame and the outcome.
    static func answer(_ fleet: Fleet, _ device: String) throws -> FederatedClient.Outcome {
        let task = try #require(try fleet.tasks(device).last)
        let key = fleet.devices[device]!
        let graph = try ModelFile.decode(ModelFixtures.model(seed: 1)).graph
        var residual: [Float]? = nil
        return try FederatedClient(device: device, keyId: key.keyId, key: key.privateKey).answer(
            task, graph: graph, data: data(device), residual: &residual, now: fleet.clock.now(), seed: 7)
    }

    static func send(_ services: HubServices, _ device: String, _ frame: FLUpdateFrame) async throws {
        await services.rounds.handle(Message(topic: Topic.flUpdate(try DeviceID(device)).name, payload: frame.encoded()))
    }

    @Test("two FedAvg iterations (one update in parts) and a federated evaluation register 1.1.0 with the exact weighted mean and its lineage")
    func roundEndToEnd() async throws {
        try await Self.withFleet { fleet, services in
            defer { services.close() }
            var request = RoundRequest(model: Self.model)
            request.rounds = 2
            request.minClients = 3
            request.deadline = "1m"
            request.localEpochs = 1
            request.lr = 0.05
            request.quantize = "none"
            let started = try await services.rounds.start(request, by: HubFixture.alice)
            let id = started.record.id
            #expect(started.open?.selected == 4 && started.record.baseVersion == "1.0.0")
            let ids = fleet.devices.keys.sorted()
            let base = try ModelFile.decode(ModelFixtures.model(seed: 1)).graph
            let layout = ParameterLayout(graph: base)
            var expected = try layout.flatten(base)
            var replay: FLUpdateFrame?
            for iteration in 1...2 {
                try await fleet.waitForTasks(ids, count: iteration)
                var sum = [Float](repeating: 0, count: layout.count)
                for device in ids {
                    let outcome = try Self.answer(fleet, device)
                    // The task carried exactly the hub's current global.
                    let task = try fleet.tasks(device).last!
                    let sent = try UpdateCodec.decode(task.payload, layout: layout)
                    #expect(zip(sent, expected).allSatisfy { abs($0 - $1) <= 1e-6 })
                    let delta = try #require(outcome.delta)
                    for i in 0..<sum.count { sum[i] += delta[i] / Float(ids.count) }  // equal example counts
                    if iteration == 2, device == "dev-3", let replay {
                        try await Self.send(services, device, replay)  // iteration 1's update, again
                    }
                    if device == "dev-0" {
                        // dev-0's answer, claimed by dev-1: refused, dev-1 may still answer.
                        try await Self.send(services, "dev-1", outcome.frame)
                    }
                    if iteration == 2, device == "dev-2" {
                        // A large update comes in parts: out of order, one of them twice, after a broken one.
                        let topic = Topic.flUpdate(try DeviceID(device)).name
                        await services.rounds.handle(Message(topic: topic, payload: Array("SFLC".utf8) + [1, 0, 0, 0]))
                        let parts = try FLUpdatePartFrame.split(
                            outcome.frame.encoded(), updateId: outcome.frame.header.unverified.id, time: 0, partBytes: 1024)
                        #expect(parts.count >= 2)
                        for part in (parts + [parts[1]]).reversed() {
                            await services.rounds.handle(Message(topic: topic, payload: part))
                        }
                    } else {
                        try await Self.send(services, device, outcome.frame)
                    }
                    if device == "dev-3" { replay = outcome.frame }
                }
                for i in 0..<expected.count { expected[i] += sum[i] }
                await services.rounds.tick()
            }
            // The evaluation iteration: every device reports on the final global.
            try await fleet.waitForTasks(ids, count: 3)
            for device in ids {
                let task = try fleet.tasks(device).last!
                #expect(task.task.kind == "evaluate")
                let outcome = try Self.answer(fleet, device)
                #expect(outcome.frame.payload.isEmpty && outcome.frame.header.unverified.evalExamples == 40)
                try await Self.send(services, device, outcome.frame)
            }
            await services.rounds.tick()
            await services.rounds.tick()
            let view = try await services.rounds.view(id: id)
            #expect(view.record.status == .completed, "\(view.events.map(\.text))")
            #expect(view.record.resultVersion == "1.1.0")
            #expect(view.record.history.map(\.kind) == ["fit", "fit", "evaluate"])
            #expect(view.record.history.allSatisfy { $0.participants.count == 4 })
            #expect(view.record.history[1].rejected["late"] == 1)
            #expect(view.record.history[0].rejected["badSignature"] == 1 && view.record.history[1].rejected["badSignature"] == 1)
            #expect(view.record.history[2].evalExamples == 160 && view.record.history[2].accuracy != nil)
            let registered = try await services.registry.version(model: Self.model, version: SemanticVersion(1, 1, 0))
            #expect(registered.lineage.federatedRound == id && registered.lineage.parent == SemanticVersion(1, 0, 0))
            #expect(registered.metadata["strategy"] == .string("fedavg"))
            let result = try ModelFile.decode(
                try await services.registry.modelFileBytes(model: Self.model, version: SemanticVersion(1, 1, 0)))
            let got = try layout.flatten(result.graph)
            let worst = zip(got, expected).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-5, "the registered weights differ from the weighted mean by \(worst)")
            let counters = await services.rounds.counters
            #expect(counters.accepted == 12 && counters.rejected["late"] == 1 && counters.rejected["badSignature"] == 2)
            #expect(counters.rejected["malformed"] == 1)
            let metrics = await FleetAggregates.exposition(services)
            #expect(metrics.contains("starling_hub_rounds{status=\"completed\"} 1\n"))
            #expect(metrics.contains("starling_hub_fl_updates{outcome=\"accepted\"} 12\n"))
            #expect(metrics.contains("starling_hub_fl_updates{outcome=\"badSignature\"} 2\n"))
            #expect(metrics.contains("starling_hub_fl_iterations 3\n"))
        }
    }

    @Test("a hub restart mid-iteration resumes: the pending devices get the task again and the round completes")
    func resumesAfterRestart() async throws {
        try await Self.withFleet { fleet, services in
            var request = RoundRequest(model: Self.model)
            request.minClients = 4
            request.deadline = "1m"
            request.evaluate = false
            let id = try await services.rounds.start(request, by: HubFixture.alice).record.id
            // A device that declines says why; the round's log shows it.
            let skip = DeviceEvent(
                id: "e-1", time: fleet.clock.now(), kind: .federated, phase: .skipped, reason: "3 labelled examples; the task needs 5",
                modelName: ModelName(unchecked: Self.model), rolloutId: id)
            await services.rounds.handleEvent(try Topic.events(try DeviceID("dev-3")).message(skip))
            #expect(try await services.rounds.view(id: id).events.contains {
                $0.text == "dev-3 skipped the task: 3 labelled examples; the task needs 5"
            })
            let ids = fleet.devices.keys.sorted()
            try await fleet.waitForTasks(ids, count: 1)
            for device in ids.prefix(2) { try await Self.send(services, device, try Self.answer(fleet, device).frame) }
            services.close()  // the hub goes away mid-iteration; its runner is never ticked again

            let restarted = try await Self.open(fleet)
            defer { restarted.close() }
            await restarted.rounds.resume()
            // Only the two that had not answered get the task again.
            try await fleet.waitForTasks(Array(ids.suffix(2)), count: 2)
            #expect(try fleet.tasks("dev-0").count == 1 && fleet.tasks("dev-1").count == 1)
            let open = try #require(try await restarted.rounds.view(id: id).open)
            #expect(open.answered == 2 && open.selected == 4)
            // A device that already answered before the restart is still a duplicate.
            try await Self.send(restarted, "dev-0", try Self.answer(fleet, "dev-0").frame)
            for device in ids.suffix(2) { try await Self.send(restarted, device, try Self.answer(fleet, device).frame) }
            await restarted.rounds.tick()
            await restarted.rounds.tick()
            let view = try await restarted.rounds.view(id: id)
            #expect(view.record.status == .completed, "\(view.events.map(\.text))")
            #expect(view.record.history.first?.participants.count == 4)
            #expect(view.record.history.first?.rejected["duplicate"] == 1)
            #expect(view.events.contains { $0.text.hasPrefix("resumed after a restart in iteration 1") })
        }
    }

    @Test("too few answers by the deadline: the iteration opens again, then the round fails; late updates are refused")
    func deadlineAndRetries() async throws {
        try await Self.withFleet { fleet, services in
            defer { services.close() }
            var request = RoundRequest(model: Self.model)
            request.minClients = 3
            request.deadline = "10s"
            let id = try await services.rounds.start(request, by: HubFixture.alice).record.id
            let ids = fleet.devices.keys.sorted()
            for attempt in 1...4 {
                try await fleet.waitForTasks(ids, count: attempt)
                try await Self.send(services, "dev-0", try Self.answer(fleet, "dev-0").frame)
                fleet.clock.advance(byMilliseconds: 11_000)
                await services.rounds.tick()  // abandons
                try await Self.online(fleet, services)
                await services.rounds.tick()  // opens again (or has failed)
            }
            let view = try await services.rounds.view(id: id)
            #expect(view.record.status == .failed)
            #expect(view.record.message?.contains("did not reach 3 answers") == true)
            #expect(view.events.filter { $0.text.contains("; retry") }.count == 4)
            // A device answering the failed round is refused as late.
            let before = await services.rounds.counters.rejected["late"] ?? 0
            try await Self.send(services, "dev-1", try Self.answer(fleet, "dev-1").frame)
            #expect(await services.rounds.counters.rejected["late"] == before + 1)
            await #expect(throws: RoundError.self) { try await services.rounds.cancel(id: id, reason: nil, by: HubFixture.alice) }
        }
    }

    @Test("a round with central DP reports the privacy it spent, growing with each iteration")
    func privacySpent() async throws {
        try await Self.withFleet { fleet, services in
            defer { services.close() }
            var request = RoundRequest(model: Self.model)
            request.rounds = 2
            request.minClients = 4
            request.evaluate = false
            request.privacy = PrivacyConfiguration(clipping: .fixed, noiseMultiplier: 1.1, numSampledClients: 4, clippingNorm: 1)
            let id = try await services.rounds.start(request, by: HubFixture.alice).record.id
            let ids = fleet.devices.keys.sorted()
            for iteration in 1...2 {
                try await fleet.waitForTasks(ids, count: iteration)
                for device in ids { try await Self.send(services, device, try Self.answer(fleet, device).frame) }
                await services.rounds.tick()
            }
            await services.rounds.tick()
            let view = try await services.rounds.view(id: id)
            #expect(view.record.status == .completed, "\(view.events.map(\.text))")
            let spent = view.record.history.compactMap(\.epsilon)
            // The accountant's own value for one and two steps at q = 1, σ = 1.1, δ = 1e-5.
            var one = RDPAccountant()
            one.compose(noiseMultiplier: 1.1, samplingRate: 1, steps: 1)
            var two = RDPAccountant()
            two.compose(noiseMultiplier: 1.1, samplingRate: 1, steps: 2)
            #expect(spent == [one.epsilon(delta: 1e-5).epsilon, two.epsilon(delta: 1e-5).epsilon])
            #expect(spent.count == 2 && spent[1] > spent[0] && view.record.history.allSatisfy { $0.delta == 1e-5 })
        }
    }

    @Test("requests are checked: viewers, unknown models, bad settings, a second round of the same model")
    func requestChecks() async throws {
        try await Self.withFleet { fleet, services in
            defer { services.close() }
            await #expect(throws: AuthError.self) {
                try await services.rounds.start(RoundRequest(model: Self.model), by: HubFixture.viewer)
            }
            await #expect(throws: RoundError.self) { try await services.rounds.start(RoundRequest(model: "nope"), by: HubFixture.alice) }
            for mutate in [
                { (r: inout RoundRequest) in r.lr = -1 }, { $0.encoding = "zip" }, { $0.fraction = 2 }, { $0.deadline = "soon" },
                { $0.strategy = "fedmagic" }, { $0.fromVersion = "9.9.9" }, { $0.strategyOptions = ["eta": 0.1] },
                { $0.strategy = "fedtrimmedavg"; $0.strategyOptions = ["beta": 0.7] }, { $0.strategy = "fedprox" },
                { $0.strategyOptions = ["mixing": 4] }, { $0.strategy = "fedmedian"; $0.strategyOptions = ["mixing": -1] },
            ] {
                var request = RoundRequest(model: Self.model)
                mutate(&request)
                await #expect(throws: RoundError.self) { try await services.rounds.start(request, by: HubFixture.alice) }
            }
            var adam = RoundRequest(model: Self.model)
            adam.strategy = "fedadam"
            adam.strategyOptions = ["eta": 0.05, "beta_1": 0.9]
            adam.privacy = PrivacyConfiguration(clipping: .fixed, noiseMultiplier: 0.5, numSampledClients: 4, clippingNorm: 1)
            let started = try await services.rounds.start(adam, by: HubFixture.alice)
            // The noise seed is drawn, kept, and never shown.
            #expect(started.record.request.privacy != nil && started.record.request.privacy?.seed == nil)
            let stored = try #require(try await SQLiteHubStore(services.database).round(id: started.record.id))
            #expect(stored.request.privacy?.seed != nil)
            await #expect(throws: RoundError.self) { try await services.rounds.start(RoundRequest(model: Self.model), by: HubFixture.alice) }
        }
    }

    @Test("nearest-neighbour mixing reaches the robust strategies through the round request's options")
    func mixingOption() throws {
        let krum = try StrategyFactory.make("krum", options: ["num_malicious_clients": 2, "mixing": 2], mu: nil)
        #expect((krum as? Krum)?.mixing == 2 && (krum as? Krum)?.numMaliciousClients == 2)
        let median = try StrategyFactory.make("fedmedian", options: ["mixing": 3], mu: nil)
        #expect((median as? FedMedian)?.mixing == 3)
    }

    @Test("fit iterations skip devices that cannot train, hold too few labelled examples, or serve a failing rollout's candidate")
    func selection() async throws {
        try await Self.withFleet(count: 5) { fleet, services in
            defer { services.close() }
            func report(_ id: String, canTrain: Bool?, labelled: Int?) async throws {
                let time = fleet.clock.now()
                _ = await services.monitor.handle(
                    try Topic.telemetry(try DeviceID(id)).message(
                        Telemetry(
                            id: "t-\(id)-\(time)", time: time, windowMs: 1000, modelName: ModelName(unchecked: Self.model),
                            modelVersion: "1.0.0", predictions: 10, errorRate: 0, latencyP50Ms: 1, latencyP95Ms: 2,
                            feedbackCount: 0, cpuPercent: 1, rssBytes: 1, diskUsedBytes: 1, canTrain: canTrain,
                            labelledExamples: labelled)))
            }
            try await report("dev-0", canTrain: false, labelled: 100)
            try await report("dev-1", canTrain: true, labelled: 3)
            try await report("dev-2", canTrain: true, labelled: 50)
            // dev-3 reports nothing about training: it is asked and decides itself.
            // dev-4 serves 0.9.0, the candidate of a paused rollout of the model.
            let time = fleet.clock.now()
            _ = await services.monitor.handle(
                try Topic.status(try DeviceID("dev-4")).message(
                    DeviceStatus(
                        id: "s-dev-4-again", time: time, state: .online, agentVersion: "0.6.0", firmwareProfile: "generic-linux",
                        modelName: ModelName(unchecked: Self.model), modelVersion: "0.9.0")))
            var paused = RolloutStoreTests.record("ro-paused", at: time)
            paused.candidate = "0.9.0"
            paused.state = .paused(phase: 0, reason: "a gate failed")
            try await SQLiteHubStore(services.database).insertRollout(paused, change: ChangeContext(subject: "alice", time: time))
            var request = RoundRequest(model: Self.model)
            request.minClients = 1
            request.minExamples = 5
            let started = try await services.rounds.start(request, by: HubFixture.alice)
            #expect(started.open?.selected == 2)
            try await fleet.waitForTasks(["dev-2", "dev-3"], count: 1)
            #expect(try fleet.tasks("dev-0").isEmpty && fleet.tasks("dev-1").isEmpty && fleet.tasks("dev-4").isEmpty)
        }
    }

    @Test("a start that meets ticks opens iteration 1 once: every device gets one task")
    func startWhileTicking() async throws {
        try await Self.withFleet { fleet, services in
            defer { services.close() }
            var request = RoundRequest(model: Self.model)
            request.minClients = 2
            request.fraction = 0.5
            let rounds = services.rounds
            let ticking = Task {
                for _ in 0..<300 {
                    await rounds.tick()
                    try? await Task.sleep(for: .milliseconds(1))
                }
            }
            let started = try await rounds.start(request, by: HubFixture.alice)
            await ticking.value
            let id = started.record.id
            let view = try await rounds.view(id: id)
            let asks = view.events.filter { $0.text.contains("iteration 1 (fit) asks") }
            #expect(asks.count == 1, "\(view.events.map(\.text))")
            try await Task.sleep(for: .milliseconds(200))  // the tasks cross the in-memory broker
            let tasked = fleet.devices.keys.sorted().filter { (try? fleet.tasks($0).isEmpty) == false }
            #expect(tasked.count == 2, "\(tasked)")
            for device in tasked { #expect(try fleet.tasks(device).count == 1) }
        }
    }
}
