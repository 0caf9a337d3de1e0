import Core
import Testing

/// Behaviour every `MessageTransport` must show, written once and run against the in-memory
/// broker (`InMemoryTransportTests`) and against Mosquitto (the integration tests).
///
/// Scenarios never wait for "nothing to arrive": to show a message was not delivered they send a
/// marker afterwards and check the marker comes first.
enum TransportScenarios {
    typealias Body = @Sendable (TransportHarness) async throws -> Void

    /// Every scenario by name.
    static let all: [(name: String, body: Body)] = [
        ("publishSubscribeRoundTrip", publishSubscribeRoundTrip),
        ("wildcardSubscriptions", wildcardSubscriptions),
        ("retainedMessages", retainedMessages),
        ("persistentSessionCatchesUp", persistentSessionCatchesUp),
        ("cleanStartForgets", cleanStartForgets),
        ("lastWillOnAbnormalDisconnect", lastWillOnAbnormalDisconnect),
        ("cleanCloseSendsNoWill", cleanCloseSendsNoWill),
        ("pipelinedPublishesAllArrive", pipelinedPublishesAllArrive),
        ("unsubscribeStopsDelivery", unsubscribeStopsDelivery),
        ("sharedSubscriptionDeliversOnce", sharedSubscriptionDeliversOnce),
        ("invalidTopicsAreRefused", invalidTopicsAreRefused),
        ("closeEndsTheTransport", closeEndsTheTransport),
    ]

    /// The scenario names, for `@Test(arguments:)`.
    static let names = all.map(\.name)

    /// Runs the scenario `name` on `harness`.
    static func run(_ name: String, on harness: TransportHarness) async throws {
        let body = try #require(all.first { $0.name == name }?.body, "no scenario \(name)")
        try await body(harness)
    }

    /// Runs every scenario, each with a harness from `makeHarness`.
    static func runAll(_ makeHarness: () -> TransportHarness) async throws {
        for (_, body) in all { try await body(makeHarness()) }
    }

    // MARK: - Scenarios

    static func publishSubscribeRoundTrip(_ h: TransportHarness) async throws {
        let t = scenarioToken()
        let a = try await Peer.connect(.init(id: "a-\(t)"), h)
        let b = try await Peer.connect(.init(id: "b-\(t)"), h)
        #expect(try await a.events.next(h, what: "event") == .connected(sessionPresent: false))
        try await b.subscribe("scn/\(t)/x")
        try await a.transport.publish(Message(topic: "scn/\(t)/x", payload: [0, 1, 255], qos: .atLeastOnce))
        let got = try await b.inbox.next(h)
        #expect(got == Message(topic: "scn/\(t)/x", payload: [0, 1, 255], qos: .atLeastOnce, retain: false))
        await a.transport.close()
        await b.transport.close()
    }

    static func wildcardSubscriptions(_ h: TransportHarness) async throws {
        let t = scenarioToken()
        let p = "scn/\(t)"
        let a = try await Peer.connect(.init(id: "a-\(t)"), h)
        let b = try await Peer.connect(.init(id: "b-\(t)"), h)
        try await b.subscribe("\(p)/+/status")
        try await b.subscribe("\(p)/devices/#")
        try await b.subscribe("\(p)/marker")
        for topic in ["\(p)/pi/status", "\(p)/pi/telemetry", "\(p)/devices", "\(p)/devices/pi/x/y", "\(p)/a/b/status"] {
            try await a.publish(topic, topic)
        }
        try await a.publish("\(p)/marker", "marker")
        #expect(try await b.receive(4, h) == ["\(p)/pi/status", "\(p)/devices", "\(p)/devices/pi/x/y", "marker"])
        await a.transport.close()
        await b.transport.close()
    }

    static func retainedMessages(_ h: TransportHarness) async throws {
        let t = scenarioToken()
        let p = "scn/\(t)"
        let a = try await Peer.connect(.init(id: "a-\(t)"), h)
        let live = try await Peer.connect(.init(id: "live-\(t)"), h)
        try await live.subscribe("\(p)/status")
        try await a.publish("\(p)/status", "old", retain: true)
        try await a.publish("\(p)/status", "new", retain: true)
        let liveCopies = try await live.inbox.take(2, h)
        #expect(liveCopies.map(\.retain) == [false, false], "live deliveries do not carry the retain flag")

        let late = try await Peer.connect(.init(id: "late-\(t)"), h)
        try await late.subscribe("\(p)/status")
        let stored = try await late.inbox.next(h)
        #expect(String(decoding: stored.payload, as: UTF8.self) == "new")
        #expect(stored.retain)

        try await a.publish("\(p)/status", "", retain: true)  // clears
        try await a.publish("\(p)/zz", "marker", retain: true)
        let fresh = try await Peer.connect(.init(id: "fresh-\(t)"), h)
        try await fresh.subscribe("\(p)/#")
        #expect(try await fresh.receive(1, h) == ["marker"])
        try await a.publish("\(p)/zz", "", retain: true)
        for peer in [a, live, late, fresh] { await peer.transport.close() }
    }

    static func persistentSessionCatchesUp(_ h: TransportHarness) async throws {
        let t = scenarioToken()
        let p = "scn/\(t)"
        let a = try await Peer.connect(.init(id: "a-\(t)"), h)
        let b = try await Peer.connect(.init(id: "b-\(t)", cleanStart: false), h)
        try await b.subscribe("\(p)/q")
        await b.transport.close()
        for i in 0..<3 { try await a.publish("\(p)/q", "m\(i)") }
        let back = try await Peer.connect(.init(id: "b-\(t)", cleanStart: false), h)
        #expect(try await back.events.next(h, what: "event") == .connected(sessionPresent: true))
        #expect(try await back.receive(3, h) == ["m0", "m1", "m2"])
        await a.transport.close()
        await back.transport.close()
        // Leave no session behind on a real broker.
        let cleanup = try await Peer.connect(.init(id: "b-\(t)", cleanStart: true), h)
        await cleanup.transport.close()
    }

    static func cleanStartForgets(_ h: TransportHarness) async throws {
        let t = scenarioToken()
        let p = "scn/\(t)"
        let a = try await Peer.connect(.init(id: "a-\(t)"), h)
        let b = try await Peer.connect(.init(id: "b-\(t)", cleanStart: true), h)
        try await b.subscribe("\(p)/#")
        await b.transport.close()
        try await a.publish("\(p)/q", "missed")
        let back = try await Peer.connect(.init(id: "b-\(t)", cleanStart: true), h)
        #expect(try await back.events.next(h, what: "event") == .connected(sessionPresent: false))
        try await back.subscribe("\(p)/#")
        try await a.publish("\(p)/marker", "marker")
        #expect(try await back.receive(1, h) == ["marker"])
        await a.transport.close()
        await back.transport.close()
    }

    static func lastWillOnAbnormalDisconnect(_ h: TransportHarness) async throws {
        guard let dropConnection = h.dropConnection else { return }
        let t = scenarioToken()
        let p = "scn/\(t)"
        let watcher = try await Peer.connect(.init(id: "w-\(t)"), h)
        try await watcher.subscribe("\(p)/status")
        let will = Message(topic: "\(p)/status", payload: Array("offline".utf8), qos: .atLeastOnce, retain: true)
        let device = try await Peer.connect(.init(id: "d-\(t)", will: will), h)
        _ = try await device.events.next(h, what: "event")
        try await dropConnection("d-\(t)")
        #expect(try await watcher.receive(1, h) == ["offline"])
        guard case .disconnected = try await device.events.next(h, what: "event") else {
            Issue.record("the transport did not report the lost connection")
            return
        }
        #expect(try await device.events.next(h, what: "event") == .connected(sessionPresent: true))
        let late = try await Peer.connect(.init(id: "late-\(t)"), h)
        try await late.subscribe("\(p)/status")
        let stored = try await late.inbox.next(h)
        #expect(stored.retain && stored.payload == Array("offline".utf8))
        try await watcher.publish("\(p)/status", "", retain: true)
        for peer in [watcher, device, late] { await peer.transport.close() }
    }

    static func cleanCloseSendsNoWill(_ h: TransportHarness) async throws {
        let t = scenarioToken()
        let p = "scn/\(t)"
        let watcher = try await Peer.connect(.init(id: "w-\(t)"), h)
        try await watcher.subscribe("\(p)/status")
        let will = Message(topic: "\(p)/status", payload: Array("offline".utf8), qos: .atLeastOnce, retain: false)
        let device = try await Peer.connect(.init(id: "d-\(t)", cleanStart: true, will: will), h)
        await device.transport.close()
        try await watcher.publish("\(p)/status", "marker")
        #expect(try await watcher.receive(1, h) == ["marker"])
        await watcher.transport.close()
    }

    static func pipelinedPublishesAllArrive(_ h: TransportHarness) async throws {
        let t = scenarioToken()
        let p = "scn/\(t)"
        let a = try await Peer.connect(.init(id: "a-\(t)"), h)
        let b = try await Peer.connect(.init(id: "b-\(t)"), h)
        try await b.subscribe("\(p)/#")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<200 { group.addTask { try await a.publish("\(p)/c", "\(i)") } }
            try await group.waitForAll()
        }
        for i in 0..<50 { try await a.publish("\(p)/s", "s\(i)") }
        let got = try await b.inbox.take(250, h)
        let concurrent = got.filter { $0.topic == "\(p)/c" }.map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(Set(concurrent) == Set((0..<200).map { "\($0)" }))
        let sequential = got.filter { $0.topic == "\(p)/s" }.map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(sequential == (0..<50).map { "s\($0)" }, "one publisher's awaited publishes arrive in order")
        await a.transport.close()
        await b.transport.close()
    }

    static func unsubscribeStopsDelivery(_ h: TransportHarness) async throws {
        let t = scenarioToken()
        let p = "scn/\(t)"
        let a = try await Peer.connect(.init(id: "a-\(t)"), h)
        let b = try await Peer.connect(.init(id: "b-\(t)"), h)
        try await b.subscribe("\(p)/x")
        try await b.subscribe("\(p)/marker")
        try await a.publish("\(p)/x", "first")
        #expect(try await b.receive(1, h) == ["first"])
        try await b.transport.unsubscribe("\(p)/x")
        try await a.publish("\(p)/x", "second")
        try await a.publish("\(p)/marker", "marker")
        #expect(try await b.receive(1, h) == ["marker"])
        await a.transport.close()
        await b.transport.close()
    }

    static func sharedSubscriptionDeliversOnce(_ h: TransportHarness) async throws {
        let t = scenarioToken()
        let p = "scn/\(t)"
        let a = try await Peer.connect(.init(id: "a-\(t)"), h)
        let hubs = [try await Peer.connect(.init(id: "h1-\(t)"), h), try await Peer.connect(.init(id: "h2-\(t)"), h)]
        for hub in hubs { try await hub.subscribe("$share/g\(t)/\(p)/work") }
        for i in 0..<20 { try await a.publish("\(p)/work", "\(i)") }
        var waited = 0
        while await hubs[0].inbox.pending + hubs[1].inbox.pending < 20 {
            guard waited < h.patience else { throw ScenarioTimeout(description: "shared deliveries missing") }
            waited += 1
            await h.settle()
        }
        var all: [String] = []
        for hub in hubs { all += try await hub.receive(hub.inbox.pending, h) }
        #expect(all.sorted() == (0..<20).map { "\($0)" }.sorted(), "each message reaches exactly one member")
        for peer in [a] + hubs { await peer.transport.close() }
    }

    static func invalidTopicsAreRefused(_ h: TransportHarness) async throws {
        let t = scenarioToken()
        let a = try await Peer.connect(.init(id: "a-\(t)"), h)
        for topic in ["scn/+/x", "scn/#", ""] {
            do {
                try await a.transport.publish(Message(topic: topic, payload: [1]))
                Issue.record("publishing to '\(topic)' was accepted")
            } catch {
                #expect(error.code == .invalidTopic, "\(topic): \(error)")
            }
        }
        for filter in ["scn/#/x", "scn/a+", ""] {
            do {
                try await a.transport.subscribe(filter, qos: .atLeastOnce)
                Issue.record("subscribing to '\(filter)' was accepted")
            } catch {
                #expect(error.code == .invalidTopic, "\(filter): \(error)")
            }
        }
        await a.transport.close()
    }

    static func closeEndsTheTransport(_ h: TransportHarness) async throws {
        let t = scenarioToken()
        let a = try await Peer.connect(.init(id: "a-\(t)"), h)
        await a.transport.close()
        do {
            try await a.transport.publish(Message(topic: "scn/\(t)/x", payload: [1]))
            Issue.record("a closed transport accepted a publish")
        } catch {
            #expect(error.code == .closed)
        }
        try await a.inbox.waitForFinish(h)
        try await a.events.waitForFinish(h)
    }
}
