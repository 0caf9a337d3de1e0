import Core
import Testing

@testable import Hub

@Suite("Assignment publisher")
struct AssignmentPublisherTests {
    @Test("each device gets a retained assignment, signed by the hub key, for itself; a late subscriber still finds it")
    func publishes() async throws {
        let key = try SigningKey(name: "hub", seed: Array(repeating: 4, count: 32))
        let trust = try TrustRing(keys: [key.publicKey])
        let publisher = AssignmentPublisher(key: key, validity: 60_000, now: { 1_800_000_000_000 })
        let broker = InMemoryBroker()
        let hub = InMemoryTransport(broker: broker, clientID: "hub")
        try await hub.connect()
        let target = AssignmentPublisher.Target(
            model: try ModelName("digits"), version: "1.1.0", packageId: String(repeating: "c", count: 64), packageSize: 2048,
            rolloutId: "ro-1")
        let devices = try ["dev-1", "dev-2", "dev-3"].map { try DeviceID($0) }
        let (published, failure) = await publisher.publish(target, to: devices, via: hub)
        #expect(published == devices && failure == nil)

        for device in devices {
            let late = InMemoryTransport(broker: broker, clientID: "late-\(device)")
            try await late.connect()
            try await late.subscribe(Topic.assignment(device).name, qos: .atLeastOnce)
            var iterator = late.messages.makeAsyncIterator()
            let message = try #require(await iterator.next())
            #expect(message.retain)
            let signed = try SignedMessage<Assignment>(decoding: message.payload)
            let assignment = try signed.verified { (signature, keyId, bytes) throws(ArtifactError) in
                try trust.verify(signature: signature, keyId: keyId, message: bytes)
            }
            #expect(assignment.device == device && assignment.modelVersion == "1.1.0" && assignment.rolloutId == "ro-1")
            #expect(assignment.expiresAt == 1_800_000_060_000)
            try assignment.check(for: device, now: 1_800_000_000_001)
            await late.close()
        }
        await hub.close()
    }
}
