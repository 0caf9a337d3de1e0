import Core
import Testing

@testable import TransportMQTT

/// `MQTTTransport` against a real Mosquitto on a loopback port: delivery, pipelining, flow
/// control and the errors a caller sees.
@Suite("MQTTTransport on Mosquitto", .serialized)
struct MQTTTransportTests {
    /// Publishes `count` QoS 1 messages concurrently (the window does the pacing).
    static func publishConcurrently(_ transport: MQTTTransport, topic: String, count: Int, payloadSize: Int = 64) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<count {
                group.addTask {
                    var payload = [UInt8](repeating: 0x2A, count: payloadSize)
                    withUnsafeBytes(of: UInt32(index).littleEndian) { payload.replaceSubrange(0..<4, with: $0) }
                    try await transport.publish(Message(topic: topic, payload: payload, qos: .atLeastOnce))
                }
            }
            try await group.waitForAll()
        }
    }

    static func index(_ message: Message) -> Int {
        Int(message.payload[0..<4].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self).littleEndian })
    }

    @Test("binary payloads round-trip at QoS 0 and 1; events report the session")
    func roundTrip() async throws {
        try await withBroker { broker in
            let a = try broker.transport(broker.clientConfiguration("a"))
            let b = try broker.transport(broker.clientConfiguration("b"))
            let inbox = Collector.draining(b.messages)
            let events = Collector.draining(b.events)
            try await a.connect()
            try await b.connect()
            try await b.subscribe("t/#", qos: .atLeastOnce)
            let bytes: [UInt8] = Array(0...255)
            try await a.publish(Message(topic: "t/1", payload: bytes, qos: .atLeastOnce))
            try await a.publish(Message(topic: "t/0", payload: [], qos: .atMostOnce))
            let got = try await inbox.take(2, Self.harness)
            #expect(got[0] == Message(topic: "t/1", payload: bytes, qos: .atLeastOnce))
            #expect(got[1] == Message(topic: "t/0", payload: [], qos: .atMostOnce))
            #expect(try await events.next(Self.harness) == .connected(sessionPresent: false))
            #expect(b.statistics.connections == 1)
            // Mosquitto advertises max_inflight_messages as its Receive Maximum to MQTT 5 clients.
            #expect(a.statistics.brokerReceiveMaximum == broker.configuration().maxInflightMessages)
        }
    }

    @Test("5,000 pipelined QoS 1 publishes arrive exactly once, the window never exceeded")
    func pipelining() async throws {
        try await withBroker { broker in
            var config = broker.clientConfiguration("publisher")
            config.inFlightWindow = 500
            let publisher = try broker.transport(config)
            var subscriberConfig = broker.clientConfiguration("subscriber")
            subscriberConfig.receiveMaximum = 1000
            let subscriber = try broker.transport(subscriberConfig)
            let inbox = Collector.draining(subscriber.messages)
            try await subscriber.connect()
            try await subscriber.subscribe("load/+", qos: .atLeastOnce)
            try await publisher.connect()
            try await Self.publishConcurrently(publisher, topic: "load/x", count: 5000)
            let got = try await inbox.take(5000, Self.harness)
            #expect(Set(got.map(Self.index)) == Set(0..<5000))
            #expect(publisher.statistics.peakInFlight <= 500)
            #expect(publisher.statistics.inFlight == 0)
            try await Task.sleep(for: .milliseconds(100))
            #expect(await inbox.pending == 0, "no duplicates without a reconnect")
        }
    }

    @Test("a tiny window makes publishers wait instead of queueing without bound")
    func backPressure() async throws {
        try await withBroker { broker in
            var config = broker.clientConfiguration("slow-lane")
            config.inFlightWindow = 4
            let publisher = try broker.transport(config)
            try await publisher.connect()
            let sampler = Task {
                var maxWaiting = 0
                var maxInFlight = 0
                while !Task.isCancelled {
                    let stats = publisher.statistics
                    maxWaiting = max(maxWaiting, stats.waitingForWindow)
                    maxInFlight = max(maxInFlight, stats.inFlight)
                    try? await Task.sleep(for: .microseconds(200))
                }
                return (maxWaiting, maxInFlight)
            }
            try await Self.publishConcurrently(publisher, topic: "bp/x", count: 2000)
            sampler.cancel()
            let (maxWaiting, maxInFlight) = await sampler.value
            #expect(maxInFlight <= 4)
            #expect(publisher.statistics.peakInFlight <= 4)
            #expect(maxWaiting > 100, "callers waited for room (saw at most \(maxWaiting) waiting)")
        }
    }

    @Test("errors: publish before connect, bad topics, oversized packets, refused connections")
    func errors() async throws {
        try await withBroker(.init(tune: { $0.messageSizeLimit = 1000 })) { broker in
            var config = broker.clientConfiguration("e")
            config.maxPacketSize = 4096
            let transport = try broker.transport(config)
            let early = await errorCode { () async throws(TransportError) in try await transport.publish(Message(topic: "x", payload: [])) }
            #expect(early == .connectionFailed)
            try await transport.connect()
            let huge = [UInt8](repeating: 0, count: 5000)
            #expect(await errorCode { () async throws(TransportError) in try await transport.publish(Message(topic: "x", payload: huge)) } == .tooLarge)
            // Over the broker's message_size_limit: Mosquitto 2.0.11 answers PUBACK 0x95.
            let big = [UInt8](repeating: 0, count: 2000)
            #expect(await errorCode { () async throws(TransportError) in try await transport.publish(Message(topic: "x", payload: big)) } == .tooLarge)
            try await transport.publish(Message(topic: "x", payload: [1, 2, 3]))

            let nowhere = try MQTTTransport(
                configuration: .init(port: try MosquittoProcess.freePort(), clientID: "nowhere", reconnect: .init(minimum: .milliseconds(20))))
            #expect(await errorCode { () async throws(TransportError) in try await nowhere.connect() } == .connectionFailed)
            await nowhere.close()
        }
    }

    @Test("invalid configurations are refused with the key named")
    func configurationValidation() {
        func message(_ change: (inout MQTTTransport.Configuration) -> Void) -> String {
            var config = MQTTTransport.Configuration(clientID: "c")
            change(&config)
            do {
                try config.validate()
                return ""
            } catch {
                return error.message
            }
        }
        #expect(message { $0.keepAlive = .seconds(2) }.contains("'keepAlive'"))
        #expect(message { $0.inFlightWindow = 0 }.contains("'inFlightWindow'"))
        #expect(message { $0.clientID = "" }.contains("'clientID'"))
        #expect(message { $0.port = 70_000 }.contains("'port'"))
        #expect(message { $0.will = Message(topic: "a/+", payload: []) }.contains("'will.topic'"))
        #expect(message { $0.password = "p" }.contains("'username'"))
        #expect(message { _ in }.isEmpty)
        #expect(throws: TransportError.self) {
            _ = try MQTTTransport(configuration: .init(clientID: "c", tls: .init(caFile: "/nonexistent/ca.crt")))
        }
    }

    @Test("the backoff doubles from the minimum to the maximum, jittered down by at most the jitter")
    func backoff() {
        let backoff = ReconnectBackoff(minimum: .milliseconds(100), maximum: .seconds(1), jitter: 0.5)
        #expect(backoff.delay(afterFailures: 1, random: 0) == .milliseconds(100))
        #expect(backoff.delay(afterFailures: 2, random: 0) == .milliseconds(200))
        #expect(backoff.delay(afterFailures: 4, random: 0) == .milliseconds(800))
        #expect(backoff.delay(afterFailures: 5, random: 0) == .seconds(1))
        #expect(backoff.delay(afterFailures: 500, random: 0) == .seconds(1))
        #expect(backoff.delay(afterFailures: 2, random: 1) == .milliseconds(100))
        for _ in 0..<100 {
            let delay = backoff.delay(afterFailures: 3)
            #expect(delay >= .milliseconds(200) && delay <= .milliseconds(400))
        }
    }

    /// Patience for collectors against a real broker: 20 s in 5 ms steps.
    static let harness = TransportHarness(
        makeTransport: { _ in fatalError("unused") }, dropConnection: nil,
        settle: { try? await Task.sleep(for: .milliseconds(5)) }, patience: 4000)
}
