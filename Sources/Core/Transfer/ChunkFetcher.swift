import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The device side of chunked transfer: fetches one package into a directory and returns it
/// verified.
///
/// It opens (or resumes) a `ChunkStore` in `directory`, asks the hub for the head if it does not
/// have it and verifies it with `verifier`, then asks for the missing chunks with `FetchRequest`s
/// on `devices/{id}/fetch`, at most `window` outstanding, replies on its own reply topic. Every
/// chunk is checked against the signed manifest before it is written; refused copies (wrong
/// digest, truncated, oversized) are counted by error and asked for again, up to
/// `maxRejections`. A piece unanswered within `timeout` is asked for again, up to
/// `maxTimeouts`; the clock stops while disconnected, and after a reconnect every outstanding
/// piece is asked for again. Duplicates and frames of other packages are counted and ignored.
/// A new fetcher on the same directory (after a process restart) fetches only what is missing.
/// When all chunks are on disk they are read back, checked again and joined, and the whole
/// payload digest is checked: only then is the package returned.
///
/// Messages and connection events reach the fetcher through `receive(_:)` (an agent routes its
/// one transport's streams), or `runStandalone()` consumes the transport's streams itself.
public final class ChunkFetcher: Sendable {
    /// The device's transport.
    public let transport: any MessageTransport
    /// The device fetching (its fetch topic and chunks subtree).
    public let device: DeviceID
    /// The package to fetch (`PackageHead.id`).
    public let packageId: String
    /// Where the chunks are kept (one directory per package).
    public let directory: String
    /// Checks the head (trust ring and limits).
    public let verifier: PackageVerifier
    /// Pacing, timeouts and retry bounds.
    public let configuration: Configuration
    /// Where the hub is asked to send the frames.
    public let replyTopic: String

    let knownHead: [UInt8]?
    let clock: TransferClock
    let wallClock: @Sendable () -> Int64
    let inputs: AsyncStream<Input>
    let inputSink: AsyncStream<Input>.Continuation
    let requestPrefix: String
    private let state: Mutex<State>

    private struct State {
        var progress: TransferProgress
        var started = false
    }

    /// What the run loop reacts to.
    enum Input: Sendable {
        case message(Message)
        case event(TransportEvent)
        case tick
        case sendFailed(TransportError)
        case ended
    }

    /// A fetcher of `packageId` for `device` into `directory`. `head` is the package head if
    /// already known (from a retained `models/{name}/manifest`); it is verified like a fetched one.
    /// `clock` times the timeouts (a `ManualClock` in tests); `wallClock` stamps requests (ms
    /// since the epoch).
    public init<C: Clock>(
        transport: any MessageTransport, device: DeviceID, packageId: String, directory: String, verifier: PackageVerifier,
        head: [UInt8]? = nil, configuration: Configuration = Configuration(), clock: C = ContinuousClock(),
        wallClock: @escaping @Sendable () -> Int64 = ChunkFetcher.epochMilliseconds
    ) throws(TransferError) where C.Duration == Duration {
        try configuration.validate()
        guard PackageDigest.isHex(packageId, bytes: 32) else {
            throw TransferError(
                .invalidArgument, "package id '\(packageId.prefix(80))' is not a SHA-256 digest (64 lowercase hex)")
        }
        self.transport = transport
        self.device = device
        self.packageId = packageId
        self.directory = directory
        self.verifier = verifier
        self.configuration = configuration
        self.knownHead = head
        self.clock = TransferClock(clock)
        self.wallClock = wallClock
        replyTopic = Topic.chunks(device).name + "/" + (configuration.stream ?? "p-" + packageId.prefix(16))
        requestPrefix = "fetch-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        (inputs, inputSink) = AsyncStream.makeStream(of: Input.self)
        state = Mutex(State(progress: TransferProgress(packageId: packageId)))
    }

    /// Where the transfer stands.
    public var progress: TransferProgress { state.withLock { $0.progress } }

    func update(_ change: (inout TransferProgress) -> Void) {
        state.withLock { change(&$0.progress) }
    }

    // MARK: - Inputs

    /// Hands the fetcher an inbound message; all but frames on `replyTopic` are ignored.
    public func receive(_ message: Message) {
        inputSink.yield(.message(message))
    }

    /// Tells the fetcher the connection changed (it stops its timeouts while disconnected, and
    /// asks again for what was outstanding when the connection is back).
    public func receive(_ event: TransportEvent) {
        inputSink.yield(.event(event))
    }

    // MARK: - Running

    /// Fetches the package and returns it verified (`ModelPackage` with the head and the whole
    /// payload checked), with messages and events routed in through `receive(_:)`. Runs once.
    public func run() async throws(TransferError) -> ModelPackage {
        let first = state.withLock { s in
            defer { s.started = true }
            return !s.started
        }
        guard first else { throw TransferError(.invalidArgument, "a fetcher runs once; make a new one to fetch again") }
        defer { inputSink.finish() }
        return try await drive()
    }

    /// `run()`, consuming the transport's `messages` and `events` itself: for a transport that
    /// serves this transfer only (their iteration ends with the transfer).
    public func runStandalone() async throws(TransferError) -> ModelPackage {
        let messages = transport.messages
        let events = transport.events
        let forwardMessages = Task {
            for await message in messages { self.receive(message) }
            self.inputSink.yield(.ended)
        }
        let forwardEvents = Task {
            for await event in events { self.receive(event) }
        }
        defer {
            forwardMessages.cancel()
            forwardEvents.cancel()
        }
        return try await run()
    }

    /// Milliseconds since the Unix epoch, from the system's real-time clock.
    @Sendable public static func epochMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}
