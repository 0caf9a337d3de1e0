import Core
import Synchronization

/// Downloads packages over the agent's one MQTT session with a `ChunkFetcher`: the session
/// routes every inbound message and connection event here (`receive`), and the fetcher of the
/// package in progress takes what is its own.
public final class ChunkDownloader: PackageDownloader {
    /// The session's transport.
    public let transport: any MessageTransport
    /// This device.
    public let device: DeviceID
    /// Checks the package head.
    public let verifier: PackageVerifier
    /// Pacing and retry bounds.
    public let configuration: ChunkFetcher.Configuration
    private let current = Mutex<ChunkFetcher?>(nil)
    private let connected = Mutex(false)

    /// A downloader for `device` over `transport`.
    public init(
        transport: any MessageTransport, device: DeviceID, verifier: PackageVerifier,
        configuration: ChunkFetcher.Configuration = ChunkFetcher.Configuration()
    ) {
        self.transport = transport
        self.device = device
        self.verifier = verifier
        self.configuration = configuration
    }

    /// Hands an inbound message to the transfer in progress, if any.
    public func receive(_ message: Message) {
        current.withLock { $0 }?.receive(message)
    }

    /// Hands a connection event to the transfer in progress, if any.
    public func receive(_ event: TransportEvent) {
        switch event {
        case .connected: connected.withLock { $0 = true }
        case .disconnected: connected.withLock { $0 = false }
        }
        current.withLock { $0 }?.receive(event)
    }

    public func fetch(_ plan: UpdatePlan, into directory: String) async throws(UpdateFailure) -> ModelPackage {
        // A download resumed at start-up waits for the session: the fetcher subscribes and asks
        // at once. Offline, it waits as long as it takes (the journal keeps it in downloading).
        while !connected.withLock({ $0 }) {
            do {
                try await Task.sleep(for: .milliseconds(50))
            } catch {
                throw UpdateFailure(.downloadFailed, "the download of \(plan.packageId.prefix(16)) was cancelled")
            }
        }
        let fetcher: ChunkFetcher
        do {
            try FileIO.createDirectory(directory)
            fetcher = try ChunkFetcher(
                transport: transport, device: device, packageId: plan.packageId, directory: directory, verifier: verifier,
                configuration: configuration)
        } catch {
            throw UpdateFailure(.downloadFailed, "cannot start fetching \(plan.packageId): \(error)")
        }
        current.withLock { $0 = fetcher }
        defer { current.withLock { if $0 === fetcher { $0 = nil } } }
        do {
            return try await fetcher.run()
        } catch {
            throw UpdateFailure(.downloadFailed, "package \(plan.packageId.prefix(16)): \(error.message)")
        }
    }
}
