import Core
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
            // The consumer reads nothing for a while: the network thread pauses after 10.
            config.inboundBuffer = InboundBufferPolicy(messages: 10, bytes: 1 << 20, maxStall: .seconds(60))
            let slow = try broker.transport(config)
            try await slow.connect()
            try await slow.subscribe("burst", qos: .atLeastOnce)
            let publisher = try broker.transport(broker.clientConfiguration("burst"))
            try await publisher.connect()
            try await MQTTTransportTests.publishConcurrently(publisher, topic: "burst", count: 3000)
            // Everything was acknowledged by the broker; now the consumer catches up.
            var iterator = slow.messages.makeAsyncIterator()
            let reader = Task {
                var indices: [Int] = []
                while let message = await iterator.next() { indices.append(MQTTTransportTests.index(message)) }
                return indices
            }
            _ = await eventually(timeout: .seconds(20)) { slow.statistics.bufferedInbound == 0 && slow.statistics.inboundStalls > 0 }
            try await Task.sleep(for: .milliseconds(500))
            await slow.close()
            let seen = Set(await reader.value)
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
