import Core
import Testing

@testable import Agent

/// `AgentSession` on the in-memory broker: presence, telemetry, the outbox across outages,
/// inbound messages, and stopping.
@Suite("Sync session")
struct SyncSessionTests {
    static let statusTopic = Topic.status(SyncBench.device)
    static let telemetryTopic = Topic.telemetry(SyncBench.device)
    static let model = ModelIdentity(name: try! ModelName("digits"), version: "1.2.0")

    @Test("after start the retained online status (with the model) reaches a subscriber that comes later")
    func retainedOnline() async throws {
        try await withSyncBench(model: Self.model) { bench in
            try await bench.session.start()
            try await pollUntil("online is retained") { await bench.retainedStatus()?.state == .online }
            let late = InMemoryTransport(broker: bench.broker, clientID: "late")
            let inbox = Inbox.draining(late)
            try await late.subscribe(Self.statusTopic.name, qos: .atLeastOnce)
            try await late.connect()
            try await pollUntil("the late subscriber has the status") { await !inbox.on(Self.statusTopic).isEmpty }
            let message = try #require(await inbox.on(Self.statusTopic).first)
            #expect(message.retain)
            let status = try MessageCodec.decode(DeviceStatus.self, from: message.payload)
            #expect(status.state == .online && status.firmwareProfile == "rpi4-arm64" && status.agentVersion == "0.1.0")
            #expect(status.modelName == Self.model.name && status.modelVersion == "1.2.0")
            #expect(bench.connections.all == [.connected(sessionPresent: false)])
            await late.close()
        }
    }

    @Test("telemetry after an interval: predictions, error rate, latency quantiles, feedback, process figures")
    func telemetryContent() async throws {
        try await withSyncBench(model: Self.model) { bench in
            try await bench.session.start()
            try await pollUntil("online") { await bench.session.state == .online }
            for ms in 1...10 { bench.window.recordSuccess(latency: .milliseconds(ms)) }
            bench.window.recordFailure()
            bench.window.recordFailure()
            #expect(
                bench.store.record(
                    SyncFeedbackSummaryTests.prediction("p-1", outputs: SyncFeedbackSummaryTests.classifierOutputs(["7"]))))
            #expect(
                bench.store.record(
                    SyncFeedbackSummaryTests.prediction("p-2", outputs: SyncFeedbackSummaryTests.classifierOutputs(["3"]))))
            await bench.store.flush()
            let now = bench.wall.now
            _ = try await bench.store.attachFeedback([
                FeedbackInput(predictionID: "p-1", label: "7", time: now + 5),
                FeedbackInput(predictionID: "p-2", label: "8", time: now + 6),
            ])
            try await bench.tick()
            try await pollUntil("telemetry arrives") { await !bench.hubInbox.on(Self.telemetryTopic).isEmpty }
            let telemetry = try #require(await bench.hubInbox.decoded(Telemetry.self, on: Self.telemetryTopic).first)
            #expect(telemetry.windowMs == 30_000 && telemetry.time == bench.wall.now)
            #expect(telemetry.modelName == Self.model.name && telemetry.modelVersion == "1.2.0")
            #expect(telemetry.predictions == 10)
            #expect(abs(telemetry.errorRate - 2.0 / 12.0) < 1e-12)
            #expect(abs(telemetry.latencyP50Ms - 5) <= 0.05 && abs(telemetry.latencyP95Ms - 9) <= 0.09)
            #expect(telemetry.feedbackCount == 2 && telemetry.feedbackAccuracy == 0.5)
            #expect(telemetry.rssBytes > 0 && (0...100).contains(telemetry.cpuPercent))
            #expect(telemetry.diskUsedBytes > 0, "the store's files are in the data directory")
            #expect(telemetry.canTrain == nil && telemetry.labelledExamples == nil, "no federated client: nothing reported")

            // With a federated client, telemetry reports its readiness for the served model.
            await bench.session.reportTrainingReadiness { model in (model == Self.model.name.rawValue, 42) }
            // The next window starts empty.
            try await bench.tick()
            try await pollUntil("a second telemetry") { await bench.hubInbox.on(Self.telemetryTopic).count == 2 }
            let second = try #require(await bench.hubInbox.decoded(Telemetry.self, on: Self.telemetryTopic).last)
            #expect(
                second.predictions == 0 && second.errorRate == 0 && second.feedbackCount == 0 && second.feedbackAccuracy == nil)
            #expect(second.canTrain == true && second.labelledExamples == 42)
        }
    }

    @Test("cut off: events and feedback wait in the outbox, telemetry holds; after healing all arrive and the outbox empties")
    func outboxAcrossOutage() async throws {
        try await withSyncBench(model: Self.model) { bench in
            try await bench.session.start()
            try await pollUntil("online") { await bench.session.state == .online }
            await bench.broker.partition("dev-1")
            try await pollUntil("offline") { await bench.session.state == .offline }
            try await pollUntil("the will is retained") { await bench.retainedStatus()?.state == .offline }
            #expect(await bench.retainedStatus()?.reason == "connection lost")

            for phase in [DeviceEvent.Phase.downloading, .verifying, .staged] {
                try await bench.session.report(
                    DeviceEvent(id: bench.session.makeMessageID("ev"), time: bench.wall.now, kind: .update, phase: phase))
            }
            for index in 0..<5 {
                #expect(bench.store.record(SyncFeedbackSummaryTests.prediction("q-\(index)", outputs: "[1]")))
            }
            await bench.store.flush()
            _ = try await bench.store.attachFeedback(
                (0..<5).map { FeedbackInput(predictionID: "q-\($0)", label: "1", time: bench.wall.now) })
            bench.window.recordSuccess(latency: .milliseconds(1))
            try await bench.tick()
            try await bench.tick()
            #expect(await bench.hubInbox.on(Self.telemetryTopic).isEmpty, "no telemetry while offline")
            #expect(try await bench.store.outboxCount() >= 3)

            await bench.broker.heal("dev-1")
            try await pollUntil("online again") { await bench.retainedStatus()?.state == .online }
            let events = Topic.events(SyncBench.device)
            try await pollUntil("three events") { await bench.hubInbox.on(events).count >= 3 }
            let phases = await bench.hubInbox.decoded(DeviceEvent.self, on: events).map(\.phase)
            #expect(phases == [.downloading, .verifying, .staged])
            let feedback = Topic.feedback(SyncBench.device)
            try await pollUntil("the feedback batch") { await !bench.hubInbox.on(feedback).isEmpty }
            let rows = await bench.hubInbox.decoded(FeedbackBatch.self, on: feedback).flatMap(\.rows)
            #expect(Set(rows.map(\.predictionId)) == Set((0..<5).map { "q-\($0)" }))
            try await pollUntil("the outbox is empty") { try await bench.store.outboxCount() == 0 }

            // The held window is sent at the next tick and covers the whole outage.
            try await bench.tick()
            try await pollUntil("telemetry after the outage") { await !bench.hubInbox.on(Self.telemetryTopic).isEmpty }
            let telemetry = try #require(await bench.hubInbox.decoded(Telemetry.self, on: Self.telemetryTopic).first)
            #expect(telemetry.windowMs == 90_000 && telemetry.predictions == 1 && telemetry.feedbackCount == 5)
            let seen = bench.connections.all
            #expect(seen.count == 3 && seen.last == .connected(sessionPresent: true))
        }
    }

    @Test("inbound messages on the assignment topic reach the handler")
    func inbound() async throws {
        try await withSyncBench { bench in
            let assignment = Topic.assignment(SyncBench.device)
            try await bench.hub.publish(Message(topic: assignment.name, payload: Array("assigned".utf8), retain: true))
            try await bench.session.start()
            try await pollUntil("the retained assignment is handed over") { await !bench.received.on(assignment).isEmpty }
            try await bench.hub.publish(Message(topic: Topic.flTask(SyncBench.device).name, payload: Array("no".utf8)))
            try await bench.hub.publish(Message(topic: assignment.name, payload: Array("again".utf8), retain: true))
            try await pollUntil("the second one") { await bench.received.on(assignment).count == 2 }
            #expect(await bench.received.messages.count == 2, "only subscribed topics")
        }
    }

    @Test("graceful stop: retained offline with the reason, no will, streams closed; start again is refused")
    func gracefulStop() async throws {
        try await withSyncBench(model: Self.model) { bench in
            try await bench.session.start()
            try await pollUntil("online") { await bench.retainedStatus()?.state == .online }
            await bench.session.stop(reason: "shutdown")
            let status = try #require(await bench.retainedStatus())
            #expect(status.state == .offline && status.reason == "shutdown" && status.modelVersion == "1.2.0")
            #expect(await bench.session.state == .stopped)
            #expect(await !bench.broker.isConnected("dev-1"))
            let statuses = await bench.hubInbox.decoded(DeviceStatus.self, on: Self.statusTopic).map(\.state)
            #expect(statuses == [.online, .offline], "exactly one offline: ours, not also the will")
            await #expect(throws: SyncError.self) { try await bench.session.start() }
        }
    }

    @Test("stop while the broker is down gives up after the stop timeout and still closes")
    func stopWhileDown() async throws {
        try await withSyncBench { bench in
            try await bench.session.start()
            try await pollUntil("online") { await bench.session.state == .online }
            await bench.broker.stop()
            try await pollUntil("offline") { await bench.session.state == .offline }
            let stopping = Task { await bench.session.stop() }
            // The stop timeout runs on the manual clock: move it until the stop gives up.
            try await pollUntil("the stop gives up") {
                bench.clock.advance(by: .seconds(5))
                return await bench.session.state == .stopped
            }
            await stopping.value
        }
    }

    @Test("the last will is a retained QoS 1 offline status; a bad profile is refused")
    func lastWill() throws {
        let will = try AgentSession.lastWill(device: SyncBench.device, profile: "rpi4-arm64", agentVersion: "0.1.0")
        #expect(will.topic == Self.statusTopic.name && will.retain && will.qos == .atLeastOnce)
        let status = try MessageCodec.decode(DeviceStatus.self, from: will.payload)
        #expect(status.state == .offline && status.firmwareProfile == "rpi4-arm64")
        #expect(throws: SyncError.self) {
            try AgentSession.lastWill(device: SyncBench.device, profile: "bad profile/x", agentVersion: "0.1.0")
        }
    }
}
