import Core
import Testing

@testable import TransportMQTT

/// `MQTTTransport` when things go wrong: broker restarts, lost connections, slow consumers,
/// and many open/close cycles.
///
/// Not here: session take-over. MQTT 5 says the broker sends the old connection DISCONNECT
/// 0x8E, and the transport then closes for good; Mosquitto 2.0.11 just drops the socket, so
/// two transports with one client id reconnect in turn (checked by hand, see docs/broker.md).
@Suite("MQTTTransport resilience", .serialized)
struct MQTTResilienceTests {
    static let patience = MQTTTransportTests.harness

    static func text(_ message: Message) -> String { String(decoding: message.payload, as: UTF8.self) }

    @Test("after a broker restart the client reconnects by itself, resumes its session and continues")
    func brokerRestart() async throws {
        try await withBroker { broker in
            let device = try broker.transport(broker.clientConfiguration("device"))
            let hub = try broker.transport(broker.clientConfiguration("hub"))
            let inbox = Collector.draining(device.messages)
            let events = Collector.draining(device.events)
            try await device.connect()
            try await hub.connect()
            try await device.subscribe("cmd", qos: .atLeastOnce)
            try await hub.publish(Message(topic: "cmd", payload: Array("before".utf8)))
            #expect(Self.text(try await inbox.next(Self.patience)) == "before")
            #expect(try await events.next(Self.patience) == .connected(sessionPresent: false))

            broker.stop()
            guard case .disconnected = try await events.next(Self.patience) else {
                Issue.record("no disconnected event")
                return
            }
            // A QoS 1 publish while the broker is down waits and completes after the restart.
            let pending = Task { try await device.publish(Message(topic: "report", payload: Array("during".utf8))) }
            try await Task.sleep(for: .milliseconds(300))
            try broker.start()
            #expect(try await events.next(Self.patience) == .connected(sessionPresent: true))
            try await pending.value
            try await hub.publish(Message(topic: "cmd", payload: Array("after".utf8)))
            #expect(Self.text(try await inbox.next(Self.patience)) == "after")
            #expect(device.statistics.connections == 2)
        }
    }

    @Test("started while the broker is down: connect() throws, then the transport connects by itself")
    func brokerDownAtStart() async throws {
        try await withBroker { broker in
            broker.stop()
            let device = try broker.transport(broker.clientConfiguration("early-bird"))
            let events = Collector.draining(device.events)
            #expect(await errorCode { () async throws(TransportError) in try await device.connect() } == .connectionFailed)
            try await device.subscribe("wake", qos: .atLeastOnce)
            let inbox = Collector.draining(device.messages)
            try broker.start()
            #expect(try await events.next(Self.patience) == .connected(sessionPresent: false))
            try await device.connect()
            let hub = try broker.transport(broker.clientConfiguration("hub"))
            try await hub.connect()
            try await hub.publish(Message(topic: "wake", payload: Array("up".utf8)))
            #expect(Self.text(try await inbox.next(Self.patience)) == "up", "the subscription made offline was applied")
        }
    }

    @Test("a persistent session receives QoS 1 messages published while it was offline, across a broker restart")
    func offlineQueueSurvivesRestart() async throws {
        try await withBroker { broker in
            var deviceConfig = broker.clientConfiguration("sleeper")
            deviceConfig.sessionExpiry = .seconds(3600)
            let first = try broker.transport(deviceConfig)
            try await first.connect()
            try await first.subscribe("queue/#", qos: .atLeastOnce)
            await first.close()

            let hub = try broker.transport(broker.clientConfiguration("hub"))
            try await hub.connect()
            for index in 0..<1500 { try await hub.publish(Message(topic: "queue/\(index % 3)", payload: Array("\(index)".utf8))) }
            await hub.close()
            try broker.restart()

            let again = try broker.transport(deviceConfig)
            let inbox = Collector.draining(again.messages)
            let events = Collector.draining(again.events)
            try await again.connect()
            #expect(try await events.next(Self.patience) == .connected(sessionPresent: true))
            let got = try await inbox.take(1500, Self.patience).map(Self.text)
            #expect(got == (0..<1500).map { "\($0)" }, "all 1,500 queued messages, in order (more than Mosquitto's default queue of 1,000)")
        }
    }

    @Test("the last will (retained offline status) is published when the connection dies without DISCONNECT")
    func lastWill() async throws {
        try await withBroker { broker in
            let status = "starling/v1/devices/pi-7/status"
            var config = broker.clientConfiguration("pi-7")
            config.will = Message(topic: status, payload: Array("offline".utf8), qos: .atLeastOnce, retain: true)
            let device = try broker.transport(config)
            try await device.connect()
            try await device.publish(Message(topic: status, payload: Array("online".utf8), qos: .atLeastOnce, retain: true))
            let watcher = try broker.transport(broker.clientConfiguration("watcher"))
            let seen = Collector.draining(watcher.messages)
            try await watcher.connect()
            try await watcher.subscribe(status, qos: .atLeastOnce)
            let retained = try await seen.next(Self.patience)
            #expect(Self.text(retained) == "online" && retained.retain)
            device.client.simulateConnectionLoss()
            #expect(Self.text(try await seen.next(Self.patience)) == "offline")
            // Clean close: no will.
            try await device.publish(Message(topic: status, payload: Array("online".utf8), qos: .atLeastOnce, retain: true))
            #expect(Self.text(try await seen.next(Self.patience)) == "online")
            await device.close()
            try await watcher.publish(Message(topic: "marker", payload: []))
            try await watcher.subscribe("marker", qos: .atLeastOnce)
            try await watcher.publish(Message(topic: "marker", payload: Array("marker".utf8)))
            #expect(Self.text(try await seen.next(Self.patience)) == "marker")
        }
    }

    @Test("a slow consumer pauses the network thread; nothing is lost")
    func slowConsumer() async throws {
        try await withBroker { broker in
            var config = broker.clientConfiguration("slow")
            config.inboundBuffer = InboundBufferPolicy(messages: 50, bytes: 1 << 20, maxStall: .seconds(30))
            config.receiveMaximum = 10
            let slow = try broker.transport(config)
            try await slow.connect()
            try await slow.subscribe("flood", qos: .atLeastOnce)
            let publisher = try broker.transport(broker.clientConfiguration("flood"))
            try await publisher.connect()
            try await MQTTTransportTests.publishConcurrently(publisher, topic: "flood", count: 3000)
            #expect(await eventually { slow.statistics.bufferedInbound >= 50 })
            #expect(slow.statistics.peakBufferedInbound <= 51, "the buffer stays at its limit while nobody reads")
            var seen = Set<Int>()
            var iterator = slow.messages.makeAsyncIterator()
            while seen.count < 3000, let message = await iterator.next() {
                seen.insert(MQTTTransportTests.index(message))
                if seen.count % 500 == 0 { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(seen == Set(0..<3000))
            #expect(slow.statistics.inboundStalls > 0)
        }
    }

    @Test("close() returns promptly while the network thread is paused for a consumer that never reads")
    func closeWhileStalled() async throws {
        try await withBroker { broker in
            var config = broker.clientConfiguration("stuck")
            config.inboundBuffer = InboundBufferPolicy(messages: 5, bytes: 1 << 20, maxStall: .seconds(60))
            let stuck = try broker.transport(config)
            try await stuck.connect()
            try await stuck.subscribe("s", qos: .atLeastOnce)
            let publisher = try broker.transport(broker.clientConfiguration("p"))
            try await publisher.connect()
            for _ in 0..<20 { try await publisher.publish(Message(topic: "s", payload: [1])) }
            #expect(await eventually { stuck.statistics.inboundStalls > 0 })
            let start = ContinuousClock.now
            await stuck.close()
            #expect(ContinuousClock.now - start < .seconds(3))
        }
    }

    @Test("close() fails publishes still waiting for the broker with .closed")
    func closeFailsPending() async throws {
        try await withBroker { broker in
            let device = try broker.transport(broker.clientConfiguration("pending"))
            try await device.connect()
            broker.stop()
            let pending = Task { () async -> TransportError.Code? in
                await errorCode { () async throws(TransportError) in try await device.publish(Message(topic: "x", payload: [1])) }
            }
            try await Task.sleep(for: .milliseconds(200))
            await device.close()
            #expect(await pending.value == .closed)
        }
    }

    @Test("200 transports opened, used and closed leave no threads, descriptors or callbacks behind")
    func openCloseCycles() async throws {
        try await withBroker { broker in
            let hub = try broker.transport(broker.clientConfiguration("hub"))
            let inbox = Collector.draining(hub.messages)
            try await hub.connect()
            try await hub.subscribe("cycle/#", qos: .atLeastOnce)
            let threadsBefore = threadCount()
            let filesBefore = openFileCount()
            for round in 0..<200 {
                let transport = try MQTTTransport(configuration: broker.clientConfiguration("cycle-\(round % 7)"))
                try await transport.connect()
                try await transport.subscribe("cycle/back/\(round)", qos: .atLeastOnce)
                try await transport.publish(Message(topic: "cycle/\(round)", payload: [UInt8(round & 0xFF)]))
                if round % 3 == 0 { transport.client.simulateConnectionLoss() }
                // Every other transport is dropped without close(): deinit stops it.
                if round % 2 == 0 { await transport.close() }
            }
            #expect(try await inbox.take(200, Self.patience).count == 200)
            #expect(await eventually { threadCount() <= threadsBefore + 2 }, "threads: \(threadsBefore) before, \(threadCount()) after")
            #expect(await eventually { openFileCount() <= filesBefore + 2 }, "descriptors: \(filesBefore) before, \(openFileCount()) after")
        }
    }

    @Test("closing in the middle of traffic, reconnects and publishes never crashes or hangs (run under ASan too)")
    func closeRaces() async throws {
        try await withBroker { broker in
            let flood = try broker.transport(broker.clientConfiguration("flood"))
            try await flood.connect()
            let flooding = Task {
                var index = 0
                while !Task.isCancelled {
                    try? await flood.publish(Message(topic: "race/in", payload: [UInt8(index & 0xFF)], qos: index % 2 == 0 ? .atLeastOnce : .atMostOnce))
                    index += 1
                }
            }
            defer { flooding.cancel() }
            for round in 0..<60 {
                var config = broker.clientConfiguration("racer-\(round % 5)")
                config.inFlightWindow = 1 + round % 8
                config.inboundBuffer = InboundBufferPolicy(messages: 1 + round % 20, bytes: 1 << 20, maxStall: .milliseconds(50))
                let transport = try MQTTTransport(configuration: config)
                try await transport.connect()
                try await transport.subscribe("race/#", qos: round % 2 == 0 ? .atLeastOnce : .atMostOnce)
                let publishers = (0..<4).map { lane in
                    Task { () -> Int in
                        var sent = 0
                        while await errorCode({ () async throws(TransportError) in
                            try await transport.publish(Message(topic: "race/out/\(lane)", payload: [1, 2, 3]))
                        }) != .closed {
                            sent += 1
                        }
                        return sent
                    }
                }
                let reader = Task { var count = 0; for await _ in transport.messages { count += 1 }; return count }
                try await Task.sleep(for: .milliseconds(Int64(round % 7) * 3))
                if round % 3 == 0 { transport.client.simulateConnectionLoss() }
                try await Task.sleep(for: .milliseconds(Int64(round % 5) * 4))
                await transport.close()
                for publisher in publishers { _ = await publisher.value }
                _ = await reader.value
            }
        }
    }
}
