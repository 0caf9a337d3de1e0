import Foundation
import Synchronization
import Testing

@testable import Core

/// Packages, a hub and devices on an in-memory broker, and ways to wait and to hold the hub back,
/// for the chunked transfer tests.
enum TransferFixtures {
    /// A package of about 25 chunks of 1 KiB.
    static let package: ModelPackage = try! ModelPackage.create(
        model: ArtifactFixtures.model(hidden: [256, 64], seed: 5), options: ArtifactFixtures.options(chunkSize: 1024),
        key: ArtifactFixtures.hubKey)
    /// Another package (another version), for foreign frames and several packages at once.
    static let other: ModelPackage = try! ModelPackage.create(
        model: ArtifactFixtures.model(hidden: [128], seed: 9), options: ArtifactFixtures.options("2.0.0", chunkSize: 1024),
        key: ArtifactFixtures.hubKey)

    static let verifier = PackageVerifier(trust: ArtifactFixtures.ring)
    static let timeout = Duration.seconds(10)

    /// Fetcher settings for tests: a small window so transfers take several requests.
    static func configuration(window: Int = 4, maxTimeouts: Int = 6, maxRejections: Int = 3) -> ChunkFetcher.Configuration {
        ChunkFetcher.Configuration(window: window, timeout: timeout, maxTimeouts: maxTimeouts, maxRejections: maxRejections)
    }
}

/// Yields until `condition` holds (no clock: in-memory transfers only need the other tasks to run).
func waitUntil(_ what: String, _ condition: () async -> Bool) async throws {
    for _ in 0..<200_000 {
        if await condition() { return }
        await Task.yield()
    }
    throw ScenarioTimeout(description: "gave up waiting: \(what)")
}

/// Lets the other tasks run until nothing observable changes for a while.
func settle<T: Equatable>(_ snapshot: () async -> T) async {
    var last = await snapshot()
    var quiet = 0
    for _ in 0..<200_000 where quiet < 500 {
        await Task.yield()
        let now = await snapshot()
        quiet = now == last ? quiet + 1 : 0
        last = now
    }
}

/// A running fetch: its task, and whether it has ended.
final class FetchRun: Sendable {
    let fetcher: ChunkFetcher
    let task: Task<ModelPackage, any Error>
    private let ended: EndFlag

    /// A flag the run's task sets when it returns.
    final class EndFlag: Sendable {
        let value = Mutex(false)
    }

    /// Starts `fetcher.runStandalone()`.
    init(_ fetcher: ChunkFetcher) {
        self.fetcher = fetcher
        let ended = EndFlag()
        self.ended = ended
        task = Task {
            defer { ended.value.withLock { $0 = true } }
            return try await fetcher.runStandalone()
        }
    }

    var isEnded: Bool { ended.value.withLock { $0 } }

    /// The result, advancing `clock` by `step` whenever the transfer goes quiet (so timeouts fire)
    /// until it ends.
    func finish(advancing clock: ManualClock? = nil, by step: Duration = TransferFixtures.timeout, rounds: Int = 50)
        async throws -> ModelPackage
    {
        for _ in 0..<rounds where !isEnded {
            await settle { [fetcher] in fetcher.progress }
            guard !isEnded, let clock else { break }
            clock.advance(by: step)
        }
        try await waitUntil("the fetch ended") { isEnded }
        return try await task.value
    }

    /// The transfer error the run ended with (nil if it succeeded or failed otherwise).
    func failure(advancing clock: ManualClock? = nil) async -> TransferError? {
        do {
            _ = try await finish(advancing: clock)
            return nil
        } catch let error as TransferError {
            return error
        } catch {
            return nil
        }
    }
}

/// A hub (chunk server) and devices on one in-memory broker.
struct TransferRig {
    let broker = InMemoryBroker()
    let hub: InMemoryTransport
    let server: ChunkServer
    let serving: Task<Void, any Error>

    /// Starts a server for `catalog` and waits until it is subscribed.
    init(
        catalog: any PackageCatalog = InMemoryPackageCatalog([TransferFixtures.package]),
        configuration: ChunkServer.Configuration = .init()
    ) async throws {
        hub = InMemoryTransport(broker: broker, clientID: "hub-1")
        try await hub.connect()
        let server = try ChunkServer(transport: hub, catalog: catalog, configuration: configuration)
        self.server = server
        serving = Task { try await server.run() }
        let broker = broker
        try await waitUntil("the server subscribed") { await !broker.subscriptions(of: "hub-1").isEmpty }
    }

    /// A connected device transport.
    func device(_ id: String, cleanStart: Bool = false) async throws -> InMemoryTransport {
        let transport = InMemoryTransport(broker: broker, clientID: id, options: .init(cleanStart: cleanStart))
        try await transport.connect()
        return transport
    }

    /// A fetcher for `package` on `transport` into `directory`.
    func fetcher(
        _ transport: InMemoryTransport, package: ModelPackage = TransferFixtures.package, directory: String,
        head: [UInt8]? = nil, configuration: ChunkFetcher.Configuration = TransferFixtures.configuration(),
        clock: ManualClock = ManualClock()
    ) throws -> ChunkFetcher {
        try ChunkFetcher(
            transport: transport, device: try DeviceID(transport.clientID), packageId: package.head.id, directory: directory,
            verifier: TransferFixtures.verifier, head: head, configuration: configuration, clock: clock)
    }

    /// Stops the server and closes the hub transport.
    func stop() async {
        serving.cancel()
        await hub.close()
        _ = await serving.result
    }
}
