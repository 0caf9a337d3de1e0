import Core
import Crypto
import Foundation
import Testing

@testable import Agent

/// `FederatedService` on the in-memory broker and a real SQLite store: tasks answered, declined,
/// repeated, malformed, expired, and updates that outlive a broker outage and a restart.
@Suite("Federated client")
struct FederatedServiceTests {
    static let updateTopic = Topic.flUpdate(SyncBench.device)

    @Test("a fit task on 48 labelled rows gives one signed update on the device's fl/update topic")
    func fitTask() async throws {
        try await withFederatedBench { bench in
            try await bench.addLabelledPredictions(48)
            await bench.deliver(try bench.taskFrame())
            try await bench.sync.session.start()
            try await pollUntil("the update reaches the hub") { await !bench.sync.hubInbox.on(Self.updateTopic).isEmpty }
            try await pollUntil("the outbox is empty") { try await bench.sync.store.outboxCount() == 0 }
            let messages = await bench.sync.hubInbox.on(Self.updateTopic)
            #expect(messages.count == 1)
            let message = try #require(messages.first)
            #expect(message.topic == "\(Topic.root)/devices/dev-1/fl/update")
            let frame = try FLUpdateFrame(parsing: message.payload)
            let header = try frame.header.verified(with: bench.key.privateKey.publicKey)
            #expect(header.keyId == bench.key.keyId)
            #expect(header.taskId == "task-1" && header.roundId == "round-1" && header.examples == 48 && header.epochs == 2)
            let layout = ParameterLayout(graph: FederatedBench.model.graph)
            #expect(header.layoutDigest == layout.digest)
            let delta = try UpdateCodec.decode(frame.payload, layout: layout)
            #expect(delta.count == layout.count)
            #expect(delta.allSatisfy { $0.isFinite })
            #expect(delta.contains { $0 != 0 })
            #expect(header.evalExamples == 48)
            let correct = try #require(header.evalCorrect)
            #expect((0...48).contains(correct))
            #expect(header.evalLossMicros.map { $0 > 0 } == true)
            #expect(header.trainLossMicros != nil)

            try await pollUntil("both events reach the hub") {
                await bench.sync.hubInbox.decoded(DeviceEvent.self, on: .events(SyncBench.device)).filter {
                    $0.kind == .federated
                }
                .count == 2
            }
            let events = await bench.sync.hubInbox.decoded(DeviceEvent.self, on: .events(SyncBench.device))
                .filter { $0.kind == .federated }
            #expect(Set(events.compactMap(\.phase)) == [.started, .finished])
            #expect(events.allSatisfy { $0.rolloutId == "round-1" && $0.modelName?.rawValue == "digits" })
            #expect(bench.counter("starling_agent_federated_tasks_total{outcome=\"answered\"}") == 1)
            #expect(bench.counter("starling_agent_federated_tasks_received_total") == 1)
            #expect((bench.counter("starling_agent_federated_training_seconds_total") ?? 0) > 0)
            let round = try #require(try await bench.sync.store.federatedRound("task-1"))
            #expect(round.status == "queued")
        }
    }

    @Test("an evaluate task gives an empty payload with the evaluation filled")
    func evaluateTask() async throws {
        try await withFederatedBench { bench in
            try await bench.addLabelledPredictions(40)
            await bench.deliver(try bench.taskFrame(kind: "evaluate"))
            let updates = try await bench.queuedUpdates()
            #expect(updates.count == 1)
            let update = try #require(updates.first)
            let header = try update.header.verified(with: bench.key.privateKey.publicKey)
            #expect(update.payload.isEmpty && header.payloadSize == 0)
            #expect(header.examples == 0 && header.epochs == 0)
            #expect(header.evalExamples == 40 && header.evalCorrect != nil && header.evalLossMicros != nil)
        }
    }

    @Test("too few labelled examples: skipped with the reason, no update")
    func tooFewExamples() async throws {
        try await withFederatedBench { bench in
            try await bench.addLabelledPredictions(10)
            await bench.deliver(try bench.taskFrame(minExamples: 20))
            #expect(try await bench.queuedUpdates().isEmpty)
            let events = try await bench.queuedEvents()
            #expect(events.map(\.phase) == [.skipped])
            #expect(events.first?.reason?.contains("10 labelled examples") == true)
            #expect(bench.counter("starling_agent_federated_tasks_total{outcome=\"skipped\"}") == 1)
            #expect(try await bench.sync.store.federatedRound("task-1")?.status == "skipped")
        }
    }

    @Test("a profile that does not allow training declines fit tasks")
    func trainingNotAllowed() async throws {
        var policy = FederatedBench.policy
        policy.allowed = false
        try await withFederatedBench(policy: policy) { bench in
            try await bench.addLabelledPredictions(40)
            await bench.deliver(try bench.taskFrame())
            #expect(try await bench.queuedUpdates().isEmpty)
            let events = try await bench.queuedEvents()
            #expect(events.map(\.phase) == [.skipped])
            #expect(events.first?.reason?.contains("does not allow training") == true)
        }
    }

    @Test("without a device key every task is declined, naming the key")
    func noKey() async throws {
        try await withFederatedBench(withKey: false) { bench in
            try await bench.addLabelledPredictions(40)
            await bench.deliver(try bench.taskFrame())
            #expect(try await bench.queuedUpdates().isEmpty)
            #expect(try await bench.queuedEvents().first?.reason?.contains("device.keyFile") == true)
        }
    }

    @Test("a task past its deadline is skipped")
    func expiredDeadline() async throws {
        try await withFederatedBench { bench in
            try await bench.addLabelledPredictions(40)
            let frame = try bench.taskFrame(deadlineIn: 500)
            bench.sync.wall.advance(ms: 1000)
            await bench.deliver(frame)
            #expect(try await bench.queuedUpdates().isEmpty)
            let events = try await bench.queuedEvents()
            #expect(events.map(\.phase) == [.skipped])
            #expect(events.first?.reason?.contains("deadline") == true)
        }
    }

    @Test("the same task frame twice (also at once) trains once and sends one update")
    func duplicateTask() async throws {
        try await withFederatedBench { bench in
            try await bench.addLabelledPredictions(40)
            let frame = try bench.taskFrame()
            await bench.service.receive(frame)
            await bench.service.receive(frame)
            await bench.service.waitForTasks()
            await bench.deliver(frame)
            #expect(try await bench.queuedUpdates().count == 1)
            #expect(try await bench.queuedEvents().map(\.phase) == [.started, .finished])
            #expect(bench.counter("starling_agent_federated_tasks_total{outcome=\"duplicate\"}") == 2)
            #expect(bench.counter("starling_agent_federated_tasks_received_total") == 3)
        }
    }

    @Test("malformed frames are counted and change nothing", arguments: [[], Array("SFLT".utf8), Array("not a frame".utf8)])
    func malformedFrame(bytes: [UInt8]) async throws {
        try await withFederatedBench { bench in
            try await bench.addLabelledPredictions(40)
            await bench.deliver(bytes)
            var truncated = try bench.taskFrame()
            truncated.removeLast(3)
            await bench.deliver(truncated)
            #expect(bench.counter("starling_agent_federated_tasks_total{outcome=\"malformed\"}") == 2)
            #expect(try await bench.sync.store.outboxCount() == 0)
            #expect(try await bench.sync.store.federatedRounds().isEmpty)
        }
    }

    @Test("a model with another parameter layout is skipped")
    func layoutMismatch() async throws {
        try await withFederatedBench { bench in
            try await bench.addLabelledPredictions(40)
            let other = OIPFixtures.digitsModelB
            let layout = ParameterLayout(graph: other.graph)
            var none: [Float]?
            let payload = try UpdateCodec.encode(try layout.flatten(other.graph), layout: layout, as: .float32, residual: &none)
            let now = bench.sync.wall.now
            let task = FLTask(
                id: "task-b", time: now, roundId: "round-1", modelName: try ModelName("digits"), baseVersion: "1.0.0",
                deadline: now + 60_000, localEpochs: 1, batchSize: 16, learningRate: 0.05, layoutDigest: layout.digest,
                globalSize: payload.count, globalSha256: PackageDigest.sha256(payload))
            await bench.deliver(try FLTaskFrame(task: task, payload: payload).encoded())
            #expect(try await bench.queuedUpdates().isEmpty)
            #expect(try await bench.queuedEvents().first?.reason?.contains("layout") == true)
        }
    }

    @Test("top-k updates keep the error-feedback residual on disk for the next round")
    func topKResidual() async throws {
        try await withFederatedBench { bench in
            try await bench.addLabelledPredictions(40)
            await bench.deliver(try bench.taskFrame(encoding: "topk", topK: 0.1))
            let update = try #require(try await bench.queuedUpdates().first)
            #expect(update.header.unverified.encoding == "topk")
            let layout = ParameterLayout(graph: FederatedBench.model.graph)
            let residual = try #require(
                ResidualFile(directory: bench.directory + "/federated", model: "digits").read(layout: layout))
            #expect(residual.count == layout.count)
            #expect(residual.contains { $0 != 0 })
        }
    }

    @Test("an update queued while the broker is away survives a restart and is published after reconnecting")
    func restartBeforePublish() async throws {
        try await withTemporaryDirectory { directory in
            let wall = TestWallClock()
            let path = directory + "/agent.sqlite"
            let key = SigningKey.generate(name: "dev-1")
            // First life: the task arrives and trains; the broker is never reached.
            do {
                let store = try await AgentStore.open(StoreConfiguration(path: path, now: { wall.now }))
                let sync = try await SyncBench(store: store, wall: wall, directory: directory)
                let bench = try FederatedBench(sync: sync, directory: directory, key: key)
                try await bench.addLabelledPredictions(40)
                await bench.deliver(try bench.taskFrame())
                #expect(try await bench.queuedUpdates().count == 1)
                await sync.hub.close()
                await store.close()
            }
            // Second life: the same task again is ignored; the queued update goes out once online.
            let store = try await AgentStore.open(StoreConfiguration(path: path, now: { wall.now }))
            let sync = try await SyncBench(store: store, wall: wall, directory: directory)
            let bench = try FederatedBench(sync: sync, directory: directory, key: key)
            await bench.service.recover()
            await bench.deliver(try bench.taskFrame())
            try await sync.session.start()
            try await pollUntil("the update reaches the hub") { await !sync.hubInbox.on(Self.updateTopic).isEmpty }
            try await pollUntil("the outbox is empty") { try await store.outboxCount() == 0 }
            let updates = await sync.hubInbox.on(Self.updateTopic)
            #expect(updates.count == 1)
            let frame = try FLUpdateFrame(parsing: try #require(updates.first).payload)
            #expect(try frame.header.verified(with: key.privateKey.publicKey).taskId == "task-1")
            #expect(bench.counter("starling_agent_federated_tasks_total{outcome=\"duplicate\"}") == 1)
            await sync.close()
            await store.close()
        }
    }

    @Test("a queued update whose deadline passed leaves the outbox instead of being sent")
    func expiredUpdateDropped() async throws {
        try await withFederatedBench { bench in
            try await bench.addLabelledPredictions(40)
            await bench.deliver(try bench.taskFrame(deadlineIn: 60_000))
            #expect(try await bench.queuedUpdates().count == 1)
            bench.sync.wall.advance(ms: 120_000)
            await bench.service.dropExpiredUpdates()
            #expect(try await bench.queuedUpdates().isEmpty)
            #expect(try await bench.sync.store.federatedRound("task-1")?.status == "expired")
        }
    }

    @Test("an update larger than federated.maxMessageBytes is queued in parts that put together the signed frame; expiry drops them all")
    func updateInParts() async throws {
        try await withFederatedBench(configuration: FederatedConfiguration(maxMessageBytes: 1024)) { bench in
            try await bench.addLabelledPredictions(40)
            await bench.deliver(try bench.taskFrame(deadlineIn: 60_000))
            let messages = try await bench.queuedUpdateMessages()
            #expect(messages.count > 1 && messages.allSatisfy(FLUpdatePartFrame.isPart))
            let parts = try messages.map { try FLUpdatePartFrame(parsing: $0) }
            #expect(parts.map(\.part.index) == Array(0..<messages.count))
            #expect(parts.allSatisfy { $0.payload.count <= 1024 })
            let update = try #require(try await bench.queuedUpdates().first)
            let header = try update.header.verified(with: bench.key.privateKey.publicKey)
            #expect(parts.allSatisfy { $0.part.updateId == header.id })
            #expect(try await bench.sync.store.isInOutbox(header.id))
            bench.sync.wall.advance(ms: 120_000)
            await bench.service.dropExpiredUpdates()
            #expect(try await bench.queuedUpdateMessages().isEmpty)
            #expect(try await !bench.sync.store.isInOutbox(header.id))
        }
    }

    @Test("readiness for telemetry: able to train with a key and a profile that allows it; labelled examples up to maxExamples")
    func readiness() async throws {
        try await withFederatedBench(configuration: FederatedConfiguration(maxExamples: 25)) { bench in
            #expect(await bench.service.readiness(model: "digits") == (true, 0))
            try await bench.addLabelledPredictions(40)
            let ready = await bench.service.readiness(model: "digits")
            #expect(ready.canTrain && ready.labelledExamples == 25)
            #expect(await bench.service.readiness(model: "other").labelledExamples == 0)
        }
        try await withFederatedBench(withKey: false) { bench in
            #expect(await bench.service.readiness(model: "digits").canTrain == false)
        }
        var forbidden = FederatedBench.policy
        forbidden.allowed = false
        try await withFederatedBench(policy: forbidden) { bench in
            #expect(await bench.service.readiness(model: "digits").canTrain == false)
        }
        try await withFederatedBench(configuration: FederatedConfiguration(enabled: false)) { bench in
            #expect(await bench.service.readiness(model: "digits").canTrain == false)
        }
    }

    @Test("a task interrupted by a crash while training is reported failed, not trained again")
    func crashWhileTraining() async throws {
        try await withFederatedBench { bench in
            try await bench.addLabelledPredictions(40)
            let record = FederatedTaskRecord(
                status: .training, taskId: "task-1", roundId: "round-1", roundNumber: 1, kind: "fit", modelName: "digits",
                deadline: bench.sync.wall.now + 600_000)
            try await bench.sync.store.saveFederatedRound(
                FederatedRoundState(roundID: "task-1", status: "training", updated: bench.sync.wall.now, state: record.json()))
            await bench.service.recover()
            #expect(try await bench.sync.store.federatedRound("task-1")?.status == "failed")
            let events = try await bench.queuedEvents()
            #expect(events.map(\.phase) == [.failed] && events.first?.error == .trainingFailed)
            await bench.deliver(try bench.taskFrame())
            #expect(try await bench.queuedUpdates().isEmpty)
        }
    }

    @Test("rows of federated.localDataFile train with the labelled predictions; unknown labels are left out")
    func localDataFile() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-fl-csv-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var rows = try OIPFixtures.digits.features.selecting(rows: Array(100..<130))
        var labels = Array(OIPFixtures.digits.labels[100..<130])
        labels[0] = "not-a-digit"
        rows = try DataTable(columnNames: rows.columnNames + ["label"], columns: rows.columns + [labels])
        let path = directory + "/local.csv"
        try CSV.render(rows).write(toFile: path, atomically: true, encoding: .utf8)
        try await withFederatedBench(configuration: FederatedConfiguration(localDataFile: path)) { bench in
            try await bench.addLabelledPredictions(10)
            await bench.deliver(try bench.taskFrame(minExamples: 35))
            let update = try #require(try await bench.queuedUpdates().first)
            let header = try update.header.verified(with: bench.key.privateKey.publicKey)
            #expect(header.examples == 10 + 29)
            #expect(header.evalExamples == 39)
        }
    }

    @Test("serving keeps answering while a long training runs; training stops at the time budget")
    func servingDuringTraining() async throws {
        var policy = FederatedBench.policy
        policy.maxSeconds = 4
        try await withFederatedBench(policy: policy) { bench in
            try await bench.addLabelledPredictions(300)
            let served = try bench.registry.model("digits")
            let input = InferenceTensor(
                name: ModelBuilder.inputName, datatype: .fp32, shape: [1, 64], values: .numbers(OIPFixtures.pixels(rows: 1)))
            // Predictions run from before the task arrives until it has ended; one counts as
            // served during training when the round read "training" both before and after it.
            let store = bench.sync.store
            let serving = Task {
                var during = 0
                var total = 0
                var seenTraining = false
                while !Task.isCancelled {
                    let before = try await store.federatedRound("task-1")?.status
                    let result = try await served.infer([input])
                    let after = try await store.federatedRound("task-1")?.status
                    #expect(result.rows == 1)
                    total += 1
                    if before == "training" && after == "training" { during += 1 }
                    if after == "training" { seenTraining = true }
                    if seenTraining && after != "training" { return (during, total) }
                    if let after, after != "accepted", after != "training" {
                        throw FederatedTestFailure(description: "the task ended \(after) before training")
                    }
                    await Task.yield()
                }
                return (during, total)
            }
            defer { serving.cancel() }
            await bench.service.receive(try bench.taskFrame(epochs: 10_000))
            await bench.service.waitForTasks()
            let (during, total) = try await serving.value
            #expect(during > 0, "\(total) predictions, none during training")
            let update = try #require(try await bench.queuedUpdates().first)
            let header = update.header.unverified
            #expect((1..<10_000).contains(header.epochs))
        }
    }
}

/// A test precondition that did not hold, with what was found instead.
struct FederatedTestFailure: Error, CustomStringConvertible {
    var description: String
}
