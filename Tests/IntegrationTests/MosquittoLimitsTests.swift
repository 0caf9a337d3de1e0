import Core
import Synchronization
import Testing

@testable import TransportMQTT

/// Why the generated configuration changes Mosquitto's queue limits: with its defaults
/// (`max_queued_messages 1000`, `max_inflight_messages 20`) a connected but slow subscriber
/// silently loses QoS 1 messages; with ours it gets every one.
@Suite("Mosquitto queue limits", .serialized)
struct MosquittoLimitsTests {
    @Test("a slow subscriber: Mosquitto's defaults drop QoS 1 messages, the generated limits do not", arguments: [false, true])
    func slowSubscriber(generated: Bool) async throws {
        let options = TestBroker.Options(tune: { config in
            if !generated {
                config.maxInflightMessages = 20
                config.maxQueuedMessages = 1000
                config.maxQueuedBytes = 0
            }
        })
        try await withBroker(options) { broker in
            var config = broker.clientConfiguration("slow-\(generated)")
            // The consumer reads nothing until the burst is acknowledged: the network thread pauses
            // after 10 and stays paused however long the publishing takes on a loaded machine
            // (a stall limit shorter than the burst let the defaults case drain everything).
            config.inboundBuffer = InboundBufferPolicy(messages: 10, bytes: 1 << 20, maxStall: .seconds(900))
            let slow = try broker.transport(config)
            try await slow.connect()
            try await slow.subscribe("burst", qos: .atLeastOnce)
            let publisher = try broker.transport(broker.clientConfiguration("burst"))
            try await publisher.connect()
            try await MQTTTransportTests.publishConcurrently(publisher, topic: "burst", count: 3000)
            // Everything was acknowledged by the broker; now the consumer catches up. It reads
            // until the flow dries up: every message (generated limits) or what the broker kept.
            let delivered = Mutex<Set<Int>>([])
            let reader = Task {
                for await message in slow.messages { _ = delivered.withLock { $0.insert(MQTTTransportTests.index(message)) } }
            }
            var last = -1
            var quietSince = ContinuousClock.now
            let deadline = ContinuousClock.now + .seconds(120)
            while ContinuousClock.now < deadline {
                let count = delivered.withLock { $0.count }
                if count == 3000 { break }
                if count != last {
                    last = count
                    quietSince = .now
                } else if count > 0, ContinuousClock.now - quietSince > .seconds(3), slow.statistics.bufferedInbound == 0 {
                    break  // nothing new for 3 s with an empty buffer: the broker has no more
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            await slow.close()
            _ = await reader.value
            let seen = delivered.withLock { $0 }
            print("queue limits (generated: \(generated)): \(seen.count) of 3000 delivered")
            if generated {
                #expect(seen == Set(0..<3000))
            } else {
                #expect(seen.count < 3000, "Mosquitto's defaults were expected to drop part of the burst")
                #expect(seen.count >= 1000)
            }
        }
    }
}
