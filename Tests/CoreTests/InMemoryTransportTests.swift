import Core
import Testing

extension TransportHarness {
    /// A harness over a fresh in-memory broker.
    static func inMemory(_ broker: InMemoryBroker = InMemoryBroker()) -> TransportHarness {
        TransportHarness(
            makeTransport: { client in
                InMemoryTransport(
                    broker: broker, clientID: client.id,
                    options: .init(cleanStart: client.cleanStart, will: client.will))
            },
            dropConnection: { clientID in await broker.disconnect(clientID) })
    }
}

/// The shared transport scenarios, on the in-memory broker.
@Suite struct InMemoryTransportScenarioTests {
    @Test(arguments: TransportScenarios.names)
    func scenario(_ name: String) async throws {
        try await TransportScenarios.run(name, on: .inMemory())
    }
}

/// Fault injection and flow control of the in-memory broker, which the real broker cannot be
/// told to do on demand.
@Suite struct InMemoryBrokerTests {
    let broker = InMemoryBroker()
    var harness: TransportHarness { .inMemory(broker) }

    func peer(_ id: String, cleanStart: Bool = false, will: Message? = nil, maxInflight: Int = 20) async throws -> Peer {
        let transport = InMemoryTransport(
            broker: broker, clientID: id, options: .init(cleanStart: cleanStart, will: will, maxInflight: maxInflight))
        let peer = Peer(transport: transport, inbox: .draining(transport.messages), events: .draining(transport.events))
        try await transport.connect()
        _ = try await peer.events.next(harness, what: "event")
        return peer
    }

    /// Yields until `condition` holds (deterministic: no clock).
    func eventually(_ what: String, _ condition: () async -> Bool) async throws {
        for _ in 0..<10_000 {
            if await condition() { return }
            await Task.yield()
        }
        throw ScenarioTimeout(description: what)
    }

    @Test func droppedQoS1DeliveryIsResentAfterReconnect() async throws {
        let a = try await peer("a")
        let b = try await peer("b")
        try await b.subscribe("t/#")
        await broker.dropNext(1)
        try await a.publish("t/1", "lost")
        try await a.publish("t/2", "kept")
        #expect(try await b.receive(1, harness) == ["kept"])
        #expect(await broker.queuedCount(for: "b") == 1)
        await broker.disconnect("b")
        #expect(try await b.receive(1, harness) == ["lost"])
        guard case .disconnected = try await b.events.next(harness) else { throw ScenarioTimeout(description: "event") }
        #expect(try await b.events.next(harness) == .connected(sessionPresent: true))
    }

    @Test func droppedQoS0DeliveryIsGone() async throws {
        let a = try await peer("a")
        let b = try await peer("b")
        try await b.transport.subscribe("t/#", qos: .atMostOnce)
        await broker.dropNext(1)
        try await a.transport.publish(Message(topic: "t/1", payload: [1], qos: .atLeastOnce))
        #expect(await broker.queuedCount(for: "b") == 0)
        try await a.publish("t/2", "marker")
        let got = try await b.inbox.next(harness)
        #expect(got.payload == Array("marker".utf8) && got.qos == .atMostOnce)
    }

    @Test func duplicatesArriveTwice() async throws {
        let a = try await peer("a")
        let b = try await peer("b")
        try await b.subscribe("t")
        await broker.duplicateNext(1)
        try await a.publish("t", "x")
        try await a.publish("t", "y")
        #expect(try await b.receive(3, harness) == ["x", "x", "y"])
    }

    @Test func offlineClientCatchesUpAfterPartitionHeals() async throws {
        let a = try await peer("a")
        let b = try await peer("b")
        try await b.subscribe("t")
        await broker.partition("b")
        #expect(await !broker.isConnected("b"))
        try await a.publish("t", "while away")
        #expect(await broker.queuedCount(for: "b") == 1)
        await broker.heal("b")
        #expect(try await b.receive(1, harness) == ["while away"])
        #expect(await broker.isConnected("b"))
    }

    @Test func publishDuringOutageWaitsForTheReconnect() async throws {
        let a = try await peer("a")
        let b = try await peer("b")
        try await b.subscribe("t")
        await broker.partition("a")
        let publishing = Task { try await a.publish("t", "late") }
        try await eventually("publish queued") { await broker.waitingCount(of: "a") == 1 }
        try await a.transport.publish(Message(topic: "t", payload: [0], qos: .atMostOnce))  // dropped offline
        await broker.heal("a")
        try await publishing.value
        #expect(try await b.receive(1, harness) == ["late"])
    }

    @Test func brokerRestartKeepsSessionsAndRetained() async throws {
        let a = try await peer("a")
        let b = try await peer("b")
        let c = try await peer("c", cleanStart: true)
        try await b.subscribe("t")
        try await c.subscribe("t")
        try await a.publish("r", "kept", retain: true)
        await broker.stop()
        #expect(await broker.hasSession("b"))
        #expect(await !broker.hasSession("c"))
        await #expect(throws: TransportError.self) { try await InMemoryTransport(broker: broker, clientID: "d").connect() }
        await broker.start()
        try await eventually("reconnected") {
            let a = await broker.isConnected("a")
            let c = await broker.isConnected("c")
            return a && c
        }
        try await a.publish("t", "after")
        #expect(try await b.receive(1, harness) == ["after"])
        #expect(try await c.receive(1, harness) == ["after"], "a clean session re-subscribes on reconnect")
        #expect(await broker.retainedMessage(on: "r")?.payload == Array("kept".utf8))
    }

    @Test func inflightWindowAppliesBackPressure() async throws {
        let a = try await peer("a", maxInflight: 2)
        let b = try await peer("b")
        try await b.subscribe("t")
        await broker.holdAcknowledgements()
        let publishes = (0..<5).map { i in Task { try await a.publish("t", "\(i)") } }
        try await eventually("window full") {
            let inflight = await broker.inflightCount(of: "a")
            let waiting = await broker.waitingCount(of: "a")
            return inflight == 2 && waiting == 3
        }
        #expect(await b.inbox.pending == 0, "held publishes are not yet processed")
        await broker.releaseAcknowledgements()
        for publish in publishes { try await publish.value }
        #expect(Set(try await b.receive(5, harness)) == Set((0..<5).map { "\($0)" }))
        #expect(await broker.inflightCount(of: "a") == 0)
    }

    @Test func unacknowledgedPublishesAreResentAfterADrop() async throws {
        let a = try await peer("a", maxInflight: 1)
        let b = try await peer("b")
        try await b.subscribe("t")
        await broker.holdAcknowledgements()
        let publishing = Task { try await a.publish("t", "resent") }
        try await eventually("in flight") { await broker.inflightCount(of: "a") == 1 }
        await broker.disconnect("a")
        #expect(await broker.inflightCount(of: "a") == 1, "sent again after the reconnect, still held")
        await broker.releaseAcknowledgements()
        try await publishing.value
        #expect(try await b.receive(1, harness) == ["resent"])
    }

    @Test func closeFailsPendingPublishes() async throws {
        let a = try await peer("a")
        await broker.partition("a")
        let publishing = Task { try await a.publish("t", "never") }
        try await eventually("queued") { await broker.waitingCount(of: "a") == 1 }
        await a.transport.close()
        do {
            try await publishing.value
            Issue.record("a pending publish succeeded after close")
        } catch let error as TransportError {
            #expect(error.code == .closed)
        }
    }

    @Test func sharedSubscriptionPrefersConnectedMembersAndSkipsRetained() async throws {
        let a = try await peer("a")
        try await a.publish("w", "retained", retain: true)
        let h1 = try await peer("h1")
        let h2 = try await peer("h2")
        try await h1.subscribe("$share/hub/w")
        try await h2.subscribe("$share/hub/w")
        await broker.partition("h2")
        for i in 0..<4 { try await a.publish("w", "\(i)") }
        #expect(try await h1.receive(4, harness) == ["0", "1", "2", "3"], "no retained message, all to the connected member")
        #expect(await broker.queuedCount(for: "h2") == 0)
    }

    @Test func overlappingSubscriptionsDeliverOnceAtTheHighestQoS() async throws {
        let a = try await peer("a")
        let b = try await peer("b")
        try await b.transport.subscribe("t/#", qos: .atMostOnce)
        try await b.transport.subscribe("t/+", qos: .atLeastOnce)
        try await a.publish("t/x", "once")
        try await a.publish("t/x/y", "marker")
        let got = try await b.inbox.take(2, harness)
        #expect(got.map(\.qos) == [.atLeastOnce, .atMostOnce])
    }

    @Test func dollarTopicsAreNotMatchedByLeadingWildcards() async throws {
        let a = try await peer("a")
        let b = try await peer("b")
        try await b.subscribe("#")
        try await a.publish("$internal/x", "hidden")
        try await a.publish("visible", "marker")
        #expect(try await b.receive(1, harness) == ["marker"])
    }

    @Test func sessionTakeoverStopsTheOldTransport() async throws {
        let will = Message(topic: "s", payload: Array("gone".utf8), qos: .atLeastOnce)
        let watcher = try await peer("w")
        try await watcher.subscribe("s")
        let first = try await peer("dup", will: will)
        _ = try await peer("dup")
        guard case .disconnected = try await first.events.next(harness) else { throw ScenarioTimeout(description: "event") }
        try await first.events.waitForFinish(harness)
        #expect(try await watcher.receive(1, harness) == ["gone"])
    }

    @Test func oversizedPayloadIsRefused() async throws {
        let small = InMemoryBroker(maxPayloadBytes: 4)
        let a = InMemoryTransport(broker: small, clientID: "a")
        try await a.connect()
        await #expect(throws: TransportError.self) { try await a.publish(Message(topic: "t", payload: [1, 2, 3, 4, 5])) }
    }
}
