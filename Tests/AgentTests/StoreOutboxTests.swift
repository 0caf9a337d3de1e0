import Core
import Testing

@testable import Agent

@Suite("Store outbox", .timeLimit(.minutes(5)))
struct StoreOutboxTests {
    @Test("enqueue keeps order and exact bytes; ids must be unique identifiers; attempts are counted")
    func enqueueAndPeek() async throws {
        try await withStore { store, _ in
            try await store.enqueue(id: "m-1", kind: .event, topic: "starling/v1/devices/d/events", payload: [1, 2, 3])
            try await store.enqueue(id: "m-2", kind: .other, topic: "starling/v1/devices/d/telemetry", payload: [])
            let duplicate = await #expect(throws: StoreError.self) {
                try await store.enqueue(id: "m-1", kind: .event, topic: "t", payload: [9])
            }
            #expect(duplicate?.code == .invalidRecord)
            let invalid = await #expect(throws: StoreError.self) {
                try await store.enqueue(id: "bad id", kind: .event, topic: "t", payload: [9])
            }
            #expect(invalid?.code == .invalidRecord)

            try await store.recordAttempts(["m-1", "m-1"])
            let entries = try await store.pendingOutbox(limit: 10)
            #expect(entries.map(\.id) == ["m-1", "m-2"])
            #expect(entries[0].payload == [1, 2, 3] && entries[0].attempts == 2 && entries[0].kind == .event)
            #expect(entries[1].payload.isEmpty && entries[1].attempts == 0)
            #expect(try await store.pendingOutbox(limit: 10, after: entries[0].sequence).map(\.id) == ["m-2"])
            #expect(try await store.pendingOutbox(limit: 1).count == 1)
        }
    }

    @Test("control messages are enqueued under their own id, encoded by MessageCodec")
    func enqueueEvent() async throws {
        try await withStore { store, _ in
            let device = try DeviceID("dev-1")
            let event = DeviceEvent(id: "ev-1", time: 5, kind: .update, phase: .staged)
            try await store.enqueue(event, kind: .event, on: .events(device))
            let entry = try #require(try await store.pendingOutbox(limit: 1).first)
            #expect(entry.id == "ev-1" && entry.topic == Topic.events(device).name)
            #expect(try MessageCodec.decode(DeviceEvent.self, from: entry.payload) == event)
            #expect(entry.message.qos == .atLeastOnce && entry.message.retain == false)
        }
    }

    @Test("a drain publishes events and feedback batches in order and deletes each after its ack")
    func drainDeliversEverything() async throws {
        let bench = try await OutboxBench()
        try await bench.hub.subscribe(Subscription.filter(forEvery: .events), qos: .atLeastOnce)
        try await withStore { store, _ in
            try await store.enqueue(
                DeviceEvent(id: "ev-1", time: 1, kind: .update, phase: .downloading), kind: .event, on: .events(bench.deviceID))
            await recordAndFlush(store, 0..<2500)
            _ = try await store.attachFeedback(labels(0..<2500))
            let drainer = OutboxDrainer(store: store, transport: bench.device, device: bench.deviceID)
            let report = try await drainer.drain()
            #expect(report.acknowledged == 4)
            #expect(report.sealed == 3)
            #expect(report.failed == 0 && report.failure == nil)
            #expect(try await store.outboxCount() == 0)
            #expect(try await store.feedbackCounts() == (unbatched: 0, inFlight: 0, sent: 2500))
            try await pollUntil("2500 labels arrived") { await bench.subscriber.uniqueRows == 2500 }
            try await pollUntil("the event arrived") { await bench.subscriber.otherMessages == 1 }
            #expect(await bench.subscriber.uniqueMessages == 3)
            #expect(await bench.subscriber.undecodable == 0)
            // A second drain has nothing to do.
            #expect(try await drainer.drain() == OutboxDrainer.Report())
        }
        await bench.close()
    }

    @Test("broker down while 10,000 labels are produced: all arrive after it is back, none missing, no repeat under a new id")
    func brokerDownTenThousand() async throws {
        let broker = InMemoryBroker()
        try await withTemporaryDirectory { directory in
            let harness = OutboxScenarioHarness(
                makeTransport: { InMemoryTransport(broker: broker, clientID: $0) },
                stopBroker: { await broker.stop() }, startBroker: { await broker.start() }, directory: directory)
            try await OutboxScenarios.brokerDownWhileLabelling(harness, rows: 10_000)
        }
    }

    @Test("repeats after lost acknowledgements carry the same id and bytes, so the hub keeps each label once")
    func repeatsKeepTheirID() async throws {
        let bench = try await OutboxBench()
        let transport = LosingAckTransport(bench.device)
        try await withStore { store, _ in
            await recordAndFlush(store, 0..<3000)
            _ = try await store.attachFeedback(labels(0..<3000))
            let drainer = OutboxDrainer(store: store, transport: transport, device: bench.deviceID)
            // The broker duplicates two deliveries; the agent "crashes" after the first ack.
            await bench.broker.duplicateNext(2)
            transport.loseNextAcks(1)
            let first = try await drainer.drain()
            #expect(first.failed == 1)
            #expect(first.failure?.code == .connectionFailed)
            let left = try await store.pendingOutbox(limit: 10)
            #expect(left.count == 1 && left.first?.attempts == 1)
            let second = try await drainer.drain()
            #expect(second.failed == 0 && second.acknowledged == 1)
            #expect(try await store.outboxCount() == 0)

            try await pollUntil("3000 labels arrived") { await bench.subscriber.uniqueRows == 3000 }
            try await pollUntil("all deliveries arrived") { await bench.subscriber.messages == 3 + 2 + 1 }
            #expect(await bench.subscriber.uniqueMessages == 3)
            #expect(await bench.subscriber.repeatsWithSameID == 3)
            #expect(await bench.subscriber.conflictingRepeats == 0)
            #expect(await bench.subscriber.rowsUnderTwoIDs == 0)
        }
        await bench.close()
    }

    @Test("a disconnect with publishes in flight loses nothing: they are sent again after the reconnect")
    func disconnectMidDrain() async throws {
        let bench = try await OutboxBench(window: 5)
        try await withStore { store, _ in
            for index in 0..<40 {
                try await store.enqueue(
                    DeviceEvent(id: "ev-\(index)", time: 1, kind: .error, error: .inferenceFailed), kind: .event,
                    on: .events(bench.deviceID))
            }
            try await bench.hub.subscribe(Subscription.filter(forEvery: .events), qos: .atLeastOnce)
            await bench.broker.holdAcknowledgements()
            let drainer = OutboxDrainer(
                store: store, transport: bench.device, device: bench.deviceID, options: .init(window: 5))
            let drain = Task { try await drainer.drain() }
            try await pollUntil("the window is full") { await bench.broker.inflightCount(of: "dev-1") == 5 }
            await bench.broker.partition("dev-1")
            #expect(try await store.outboxCount() == 40)
            await bench.broker.releaseAcknowledgements()
            await bench.broker.heal("dev-1")
            let report = try await drain.value
            #expect(report.acknowledged == 40 && report.failed == 0)
            #expect(try await store.outboxCount() == 0)
            try await pollUntil("40 events arrived") { await bench.subscriber.otherMessages == 40 }
            #expect(await bench.subscriber.messages == 40)
        }
        await bench.close()
    }
}
