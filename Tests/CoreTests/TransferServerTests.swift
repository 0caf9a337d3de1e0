import Foundation
import Testing

@testable import Core

/// The hub side alone: what it refuses, how it shares its time between devices, and the package
/// sources it reads from.
@Suite("Chunk server", .serialized)
final class TransferServerTests {
    let dir = try! ArtifactFixtures.temporaryDirectory()
    let package = TransferFixtures.package

    deinit { try? FileManager.default.removeItem(atPath: dir) }

    func request(
        _ id: String, package: String? = nil, head: Bool? = nil, chunks: [Int], replyTopic: String? = nil
    ) throws -> [UInt8] {
        try MessageCodec.encode(
            FetchRequest(
                id: id, time: 1_795_000_000_000, packageId: package ?? self.package.head.id, head: head, chunks: chunks,
                replyTopic: replyTopic))
    }

    /// A transport that sees every chunk frame the hub publishes, in order.
    func watcher(_ broker: InMemoryBroker) async throws -> Collector<Message> {
        let transport = InMemoryTransport(broker: broker, clientID: "watcher")
        let inbox = Collector.draining(transport.messages)
        try await transport.connect()
        try await transport.subscribe(Subscription.filter(forEvery: .chunks), qos: .atLeastOnce)
        return inbox
    }

    @Test(
        "malformed, foreign, unknown and out-of-range requests are refused with their reason; nothing is sent; then a good one is served"
    )
    func refusals() async throws {
        let rig = try await TransferRig()
        let frames = try await watcher(rig.broker)
        let device = try await rig.device("pi-7")
        let fetch = Topic.fetch(try DeviceID("pi-7")).name
        let count = package.head.chunkCount
        let bad: [[UInt8]] = [
            Array("{not json".utf8),
            Array(#"{"v":1,"id":"r-1","time":1,"packageId":"abc","chunks":[0]}"#.utf8),
            Array(#"{"v":1,"id":"r-2","time":1,"packageId":"\#(package.head.id)","chunks":[1,1]}"#.utf8),
            try request("r-3", package: TransferFixtures.other.head.id, chunks: [0]),
            try request("r-4", chunks: [0], replyTopic: "starling/v1/devices/pi-8/chunks/steal"),
            try request("r-5", chunks: [0], replyTopic: "starling/v1/devices/pi-7/fetch"),
            try request("r-6", chunks: [0, count]),
        ]
        for payload in bad { try await device.publish(Message(topic: fetch, payload: payload)) }
        try await waitUntil("the device's requests handled") { await rig.server.statistics.requests == 7 }
        await rig.server.handle(Message(topic: "starling/v1/devices/pi-7/telemetry", payload: try request("r-7", chunks: [0])))
        try await waitUntil("all handled") { await rig.server.statistics.requests == 8 }
        let stats = await rig.server.statistics
        #expect(
            stats.refused == [
                .malformedRequest: 3, .unknownPackage: 1, .foreignReplyTopic: 2, .chunkOutOfRange: 1, .notAFetchTopic: 1,
            ])
        let refusals = await rig.server.recentRefusals
        #expect(
            refusals.map(\.reason) == [
                .malformedRequest, .malformedRequest, .malformedRequest, .unknownPackage, .foreignReplyTopic, .foreignReplyTopic,
                .chunkOutOfRange, .notAFetchTopic,
            ])
        #expect(refusals.dropLast().allSatisfy { $0.device?.rawValue == "pi-7" } && refusals.last?.device == nil)
        #expect(refusals[4].detail.contains("pi-7/chunks"), "\(refusals[4].detail)")
        #expect(stats.chunksSent == 0 && stats.headsSent == 0 && stats.accepted == 0)

        try await device.publish(Message(topic: fetch, payload: try request("r-8", head: true, chunks: [2, 0])))
        let served = try await frames.take(3, .inMemory(rig.broker))
        #expect(served.map(\.topic) == Array(repeating: Topic.chunks(try DeviceID("pi-7")).name, count: 3))
        let parsed = try served.map { try ChunkFrame(parsing: $0.payload) }.sorted {
            ($0.kind.rawValue, $0.index) > ($1.kind.rawValue, $1.index)
        }
        #expect(parsed.map(\.kind) == [.head, .chunk, .chunk] && parsed.map(\.index) == [0, 2, 0])
        #expect(parsed[0].payload == package.head.encode() && parsed[1].payload == package.chunk(2).bytes)
        await rig.stop()
    }

    @Test("devices are served in turn: a small request is not stuck behind a large one")
    func fairness() async throws {
        let broker = InMemoryBroker()
        let frames = try await watcher(broker)
        let hub = InMemoryTransport(broker: broker, clientID: "hub-1")
        try await hub.connect()
        let server = try ChunkServer(
            transport: hub, catalog: InMemoryPackageCatalog([package]), configuration: .init(concurrentPublishes: 1))
        await server.handle(Message(topic: "starling/v1/devices/big/fetch", payload: try request("a", chunks: Array(0..<20))))
        await server.handle(Message(topic: "starling/v1/devices/small/fetch", payload: try request("b", chunks: Array(0..<5))))
        #expect(await server.statistics.queued == 25)
        let serving = Task { try await server.run() }
        let order = try await frames.take(25, .inMemory(broker)).map { $0.topic.contains("/small/") ? "s" : "b" }
        #expect(order.prefix(10).joined() == "bsbsbsbsbs", "\(order.joined())")
        serving.cancel()
        await hub.close()
    }

    @Test("a frame already queued for the same reply topic is queued once; other reply topics get their own")
    func coalescing() async throws {
        let broker = InMemoryBroker()
        let hub = InMemoryTransport(broker: broker, clientID: "hub-1")
        try await hub.connect()
        let server = try ChunkServer(transport: hub, catalog: InMemoryPackageCatalog([package]))
        let topic = "starling/v1/devices/pi-7/fetch"
        await server.handle(Message(topic: topic, payload: try request("a", chunks: [0, 1, 2])))
        await server.handle(Message(topic: topic, payload: try request("b", chunks: [1, 2, 3])))
        await server.handle(
            Message(topic: topic, payload: try request("c", chunks: [1], replyTopic: "starling/v1/devices/pi-7/chunks/x")))
        await server.handle(Message(topic: topic, payload: try request("a", chunks: [5])))
        let stats = await server.statistics
        #expect(stats.coalesced == 2 && stats.queued == 5 && stats.duplicateRequests == 1 && stats.accepted == 3)
        await hub.close()
    }

    @Test("a request that would queue more than maxQueuedPerDevice frames is refused")
    func queueLimit() async throws {
        let gate = GatedSource(package, from: 0)
        let rig = try await TransferRig(
            catalog: FixedCatalog(sources: [gate]), configuration: .init(concurrentPublishes: 1, maxQueuedPerDevice: 1025))
        let device = try await rig.device("pi-7")
        let count = package.head.chunkCount
        for stream in 0..<50 {
            let payload = try request(
                "r\(stream)", chunks: Array(0..<count), replyTopic: "starling/v1/devices/pi-7/chunks/s\(stream)")
            try await device.publish(Message(topic: "starling/v1/devices/pi-7/fetch", payload: payload))
        }
        try await waitUntil("all handled") { await rig.server.statistics.requests == 50 }
        let stats = await rig.server.statistics
        #expect(stats.accepted + (stats.refused[.queueFull] ?? 0) == 50)
        #expect(stats.accepted * count <= 1025 + 1 && stats.accepted * count > 1025 - 2 * count, "accepted \(stats.accepted)")
        gate.open()
        await rig.stop()
    }

    @Test("package files are served lazily by offset, each chunk checked; damage is reported, not shipped")
    func packageFiles() async throws {
        let path = dir + "/digits.pkg"
        try FileIO.writeAtomically(package.encode(), to: path)
        let file = try PackageFile(path: path)
        #expect(file.head == package.head)
        for index in [0, 7, package.head.chunkCount - 1] {
            #expect(try await file.chunk(index) == package.chunk(index).bytes)
        }
        var damaged = package.encode()
        damaged[package.head.byteCount + 1024 * 2 + 5] ^= 1
        try FileIO.writeAtomically(damaged, to: path)
        let reopened = try PackageFile(path: path)
        await #expect(throws: TransferError.self) { _ = try await reopened.chunk(2) }
        do {
            _ = try await reopened.chunk(2)
        } catch {
            #expect(error.code == .corruptSource && error.message.contains("chunk 2"))
        }
        #expect(try await reopened.chunk(3) == package.chunk(3).bytes)

        try FileIO.writeAtomically(Array(package.encode().dropLast()), to: path)
        #expect(Self.code { _ = try PackageFile(path: path) } == .corruptSource)
        try FileIO.writeAtomically(Array("hello".utf8), to: path)
        #expect(Self.code { _ = try PackageFile(path: path) } == .corruptSource)
        #expect(Self.code { _ = try PackageFile(path: self.dir + "/missing.pkg") } == .storage)
    }

    @Test("a transfer served from a package file on disk")
    func transferFromFile() async throws {
        let path = dir + "/digits.pkg"
        try FileIO.writeAtomically(package.encode(), to: path)
        let catalog = PackageFileCatalog()
        #expect(try catalog.add(path: path).id == package.head.id)
        #expect(catalog.packageIds == [package.head.id])
        let rig = try await TransferRig(catalog: catalog)
        let fetcher = try rig.fetcher(try await rig.device("pi-7"), directory: dir + "/p")
        #expect(try await FetchRun(fetcher).finish() == package)
        catalog.remove(package.head.id)
        #expect(catalog.source(for: package.head.id) == nil)
        await rig.stop()
    }

    static func code(_ body: () throws -> Void) -> TransferError.Code? {
        do {
            try body()
            return nil
        } catch let error as TransferError {
            return error.code
        } catch {
            return nil
        }
    }

    @Test("maxBytesPerSecond paces the chunks: sending takes at least what the budget allows (a lower bound only)")
    func bytesPerSecondLimit() async throws {
        let rate = 8 * 1024
        let rig = try await TransferRig(configuration: .init(maxBytesPerSecond: rate))
        let frames = try await watcher(rig.broker)
        let device = try await rig.device("pi-7")
        let count = package.head.chunkCount
        let started = ContinuousClock.now
        try await device.publish(
            Message(topic: Topic.fetch(try DeviceID("pi-7")).name, payload: try request("r-1", chunks: Array(0..<count))))
        // Paced frames leave gaps, so wait for the server's count rather than a quiet broker.
        var sent = 0
        for _ in 0..<600 where sent < count {
            try await Task.sleep(for: .milliseconds(50))
            sent = await rig.server.statistics.chunksSent
        }
        let elapsed = ContinuousClock.now - started
        let served = try await frames.take(count, .inMemory(rig.broker))
        let bytes = served.reduce(0) { $0 + (try! ChunkFrame(parsing: $1.payload)).payload.count }
        #expect(sent == count && bytes == package.payload.count)
        // One second's budget may go at once; the rest at the rate. A slow machine only adds time.
        let floor = Double(bytes - rate) / Double(rate)
        #expect(elapsed >= .milliseconds(Int64(floor * 1000 * 0.95)), "\(elapsed) for \(bytes) bytes at \(rate) B/s")
        #expect(throws: TransferError.self) { try ChunkServer.Configuration(maxBytesPerSecond: 100).validate() }
        await rig.stop()
    }
}
