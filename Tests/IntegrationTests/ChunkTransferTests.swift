import Core
import Testing

@testable import TransportMQTT

/// Chunked transfer through a real Mosquitto with TLS, passwords and the fleet ACL: the hub's
/// `ChunkServer` and a device's `ChunkFetcher` on `MQTTTransport`, including a broker restart in
/// the middle of a transfer.
@Suite("chunked transfer on Mosquitto", .serialized)
struct ChunkTransferTests {
    static let key = try! SigningKey(name: "hub-test", seed: Array(1...32))
    static let verifier = PackageVerifier(trust: try! TrustRing(keys: [key.publicKey]))

    /// A package of an int8 MLP, a few MB, in 64 KiB chunks.
    static let package: ModelPackage = {
        let graph = try! ModelBuilder.build(.mlp(hidden: [2048, 1280]), inputShape: [64], outputs: 10, seed: 11)
        let model = try! Quantizer().quantize(Model(metadata: ModelMetadata(name: "big"), features: nil, graph: graph))
        let options = PackageOptions(
            name: "big", version: SemanticVersion("1.0.0")!, createdAt: "2026-11-27T00:00:00Z", chunkSize: 64 << 10)
        return try! ModelPackage.create(model: try! ModelFile.encode(model), options: options, key: key)
    }()

    /// The hub and device transports over TLS with their accounts, and the server running.
    struct Fleet {
        let hub: MQTTTransport
        let device: MQTTTransport
        let server: ChunkServer
        let serving: Task<Void, any Error>

        init(_ broker: TestBroker, catalog: any PackageCatalog) async throws {
            hub = try broker.transport(Self.configuration(broker, "hub-1", user: "hub", password: "hub-secret"))
            try await hub.connect()
            let server = try ChunkServer(transport: hub, catalog: catalog)
            // Subscribed before any device asks (run() subscribes too; the second SUBSCRIBE is a no-op).
            try await hub.subscribe(server.configuration.filter, qos: .atLeastOnce)
            serving = Task { try await server.run() }
            self.server = server
            device = try broker.transport(Self.configuration(broker, "dev-a", user: "dev-a", password: "a-secret"))
            try await device.connect()
        }

        /// TLS with the shortest keep-alive: over TLS, `MQTTTransport` notices a broker that went
        /// away only when its next ping fails (plain TCP sees the close at once), so the keep-alive
        /// bounds how long a broker restart stalls the test.
        static func configuration(_ broker: TestBroker, _ id: String, user: String, password: String)
            -> MQTTTransport.Configuration
        {
            var configuration = broker.clientConfiguration(id, username: user, password: password, tls: true)
            configuration.keepAlive = .seconds(5)
            return configuration
        }

        func fetcher(directory: String, window: Int = 16, timeout: Duration = .seconds(3)) throws -> ChunkFetcher {
            try ChunkFetcher(
                transport: device, device: try DeviceID("dev-a"), packageId: ChunkTransferTests.package.head.id,
                directory: directory, verifier: ChunkTransferTests.verifier,
                configuration: .init(window: window, timeout: timeout))
        }

        func stop() async {
            serving.cancel()
            await hub.close()
            _ = await serving.result
        }
    }

    @Test("a multi-MB package reaches the device through TLS and the ACL, every chunk sent once")
    func transferThroughACL() async throws {
        let package = Self.package
        #expect(package.payload.count > 2_000_000 && package.head.chunkCount > 30)
        try await withBroker(MQTTSecurityTests.fleet) { broker in
            let fleet = try await Fleet(broker, catalog: InMemoryPackageCatalog([package]))
            // A timeout far above any delivery time: on a loaded machine a short one would ask
            // again for chunks that are merely slow, and this test counts sends.
            let fetcher = try fleet.fetcher(directory: broker.directory + "/transfer", timeout: .seconds(300))
            let fetched = try await fetcher.runStandalone()
            #expect(fetched == package)
            #expect(PackageDigest.sha256(fetched.payload) == package.manifest.payload.sha256)
            #expect(try Self.verifier.verify(head: fetched.head, payload: fetched.payload).manifest.name == "big")
            let stats = await fleet.server.statistics
            #expect(stats.chunksSent == package.head.chunkCount && stats.headsSent == 1 && stats.refusedTotal == 0)
            #expect(fetcher.progress.rerequested == 0 && fetcher.progress.duplicates == 0)

            // dev-b may publish its own fetch topic only, and the hub answers only inside dev-b's own subtree.
            let other = try broker.transport(
                broker.clientConfiguration("dev-b", username: "dev-b", password: "b-secret", tls: true))
            try await other.connect()
            let steal = try Topic.fetch(try DeviceID("dev-b")).message(
                FetchRequest(
                    id: "steal-1", time: 1, packageId: package.head.id, chunks: [0],
                    replyTopic: "starling/v1/devices/dev-a/chunks/stolen"))
            try await other.publish(steal)
            let impersonation = Message(topic: Topic.fetch(try DeviceID("dev-a")).name, payload: steal.payload)
            #expect(
                await errorCode { () async throws(TransportError) in try await other.publish(impersonation) } == .notAuthorized)
            #expect(await eventually { await fleet.server.statistics.refused[.foreignReplyTopic] == 1 })
            #expect(await fleet.server.statistics.chunksSent == package.head.chunkCount)
            await fleet.stop()
        }
    }

    @Test(
        "a broker restart mid-transfer: the transfer completes with the right digest, sending again only the missing chunks (plus at most a window)"
    )
    func brokerRestartMidTransfer() async throws {
        let package = Self.package
        let window = 8
        let gate = GatedSource(package, from: 20)
        try await withBroker(MQTTSecurityTests.fleet) { broker in
            let fleet = try await Fleet(broker, catalog: FixedCatalog(sources: [gate]))
            // A timeout far above any delivery time: on a loaded machine a 3 s timeout fires and
            // re-requests more than the reconnect alone would (the count below is about reconnects).
            let fetcher = try fleet.fetcher(directory: broker.directory + "/transfer", window: window, timeout: .seconds(60))
            let run = Task { try await fetcher.runStandalone() }
            #expect(await eventually { fetcher.progress.chunksReceived == 20 && gate.held == window })
            let sentBefore = await fleet.server.statistics.chunksSent
            let missing = package.head.chunkCount - fetcher.progress.chunksReceived
            #expect(sentBefore == 20)

            broker.stop()
            gate.open()
            try await Task.sleep(for: .milliseconds(300))
            try broker.start()
            let fetched = try await run.value
            #expect(fetched == package)
            #expect(PackageDigest.sha256(fetched.payload) == package.manifest.payload.sha256)

            let sentAgain = await fleet.server.statistics.chunksSent - sentBefore
            #expect(
                sentAgain >= missing && sentAgain <= missing + window,
                "\(sentAgain) chunks sent after the restart, \(missing) were missing")
            let progress = fetcher.progress
            #expect(progress.disconnects >= 1 && progress.rerequested <= window * progress.disconnects)
            #expect(progress.chunksReceived == package.head.chunkCount)
            await fleet.stop()
        }
    }
}
