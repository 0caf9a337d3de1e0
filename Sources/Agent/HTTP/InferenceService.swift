import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The agent's inference API: Open Inference Protocol (KServe v2) REST over HTTP/1.1 on a
/// loopback TCP port and optionally a Unix socket, plus feedback and Prometheus metrics.
public final class InferenceService: Sendable {
    /// The models served.
    public let registry: ModelRegistry
    /// The metrics `GET /metrics` shows.
    public let metrics: ServingMetrics
    private let configuration: InferenceServiceConfiguration
    private let responder: OIPResponder
    private let tracker = RequestTracker()
    /// Inference requests being answered now (the federated client trains only when 0, if
    /// the profile says so).
    var requestsInFlight: Int { tracker.inFlight }

    private struct State {
        var group: MultiThreadedEventLoopGroup?
        var listeners: [any Channel] = []
        var connections: [ObjectIdentifier: any Channel] = [:]
        var port: Int?
        var stopped = false
    }

    private let state = Mutex(State())

    /// A service answering from `registry`, logging predictions to `log` (feedback needs one)
    /// and counting them in `telemetry` (for the sync session) and `health` (per version, for
    /// update probation) if given.
    public init(
        configuration: InferenceServiceConfiguration = InferenceServiceConfiguration(), registry: ModelRegistry,
        log: (any PredictionLog)? = nil, telemetry: TelemetryWindow? = nil, health: VersionHealth? = nil
    ) {
        self.configuration = configuration
        self.registry = registry
        let metrics = registry.metrics ?? ServingMetrics()
        self.metrics = metrics
        responder = OIPResponder(registry: registry, log: log, metrics: metrics, telemetry: telemetry, health: health)
    }

    /// The bound TCP port, once started.
    public var port: Int? { state.withLock { $0.port } }

    /// Binds the TCP port (and the Unix socket) and starts answering. Returns the bound port.
    @discardableResult
    public func start() async throws -> Int {
        try configuration.validate()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        try state.withLock { (state) throws(InferenceError) in
            guard state.group == nil, !state.stopped else {
                throw InferenceError(.conflict, "the inference service was already started")
            }
            state.group = group
        }
        do {
            let tcp = try await bootstrap(group, tcp: true).bind(host: configuration.host, port: configuration.port).get()
            let port = tcp.localAddress?.port ?? configuration.port
            state.withLock {
                $0.listeners.append(tcp)
                $0.port = port
            }
            if let path = configuration.unixSocketPath {
                let unix = try await bootstrap(group, tcp: false).bind(
                    unixDomainSocketPath: path, cleanupExistingSocketFile: true
                ).get()
                state.withLock { $0.listeners.append(unix) }
            }
            return port
        } catch {
            await shutdown()
            throw error
        }
    }

    private func bootstrap(_ group: MultiThreadedEventLoopGroup, tcp: Bool) -> ServerBootstrap {
        let responder = responder
        let tracker = tracker
        let maxBody = configuration.maxBodyBytes
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .childChannelInitializer { [self] channel in
                track(channel)
                return channel.eventLoop.makeCompletedFuture {
                    // Response headers are fixed names with numeric or fixed values: no need to validate them per response.
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withErrorHandling: true, withOutboundHeaderValidation: false)
                    try channel.pipeline.syncOperations.addHandler(
                        OIPChannelHandler(responder: responder, maxBodyBytes: maxBody, tracker: tracker))
                }
            }
        if tcp {
            bootstrap = bootstrap.serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
        }
        return bootstrap
    }

    private func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        let refused = state.withLock { state in
            if state.stopped { return true }
            state.connections[id] = channel
            return false
        }
        if refused {
            channel.close(promise: nil)
            return
        }
        channel.closeFuture.whenComplete { [self] _ in
            _ = state.withLock { $0.connections.removeValue(forKey: id) }
        }
    }

    /// Stops accepting, lets requests in flight finish (up to the drain timeout), closes every
    /// connection and the Unix socket, and stops the threads. Safe to call more than once.
    public func shutdown() async {
        responder.isDraining = true
        let (listeners, group) = state.withLock { state -> ([any Channel], MultiThreadedEventLoopGroup?) in
            state.stopped = true
            defer {
                state.listeners = []
                state.group = nil
            }
            return (state.listeners, state.group)
        }
        for listener in listeners { try? await listener.close() }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: configuration.drainTimeout)
        while tracker.inFlight > 0 && clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        let connections = state.withLock { Array($0.connections.values) }
        for connection in connections { try? await connection.close() }
        try? await group?.shutdownGracefully()
        if let path = configuration.unixSocketPath, !listeners.isEmpty { unlink(path) }
    }

    /// Starts, then serves until the task is cancelled, then shuts down.
    public func run() async throws {
        try await start()
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(3600))
        }
        await shutdown()
    }
}
