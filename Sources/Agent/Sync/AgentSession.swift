import Core

/// The agent's one MQTT session with the hub, over any `MessageTransport` (`MQTTTransport` in
/// production, `InMemoryTransport` in tests).
///
/// - Presence: after every (re)connection it publishes the retained `online` `DeviceStatus`; a
///   graceful `stop()` publishes retained `offline`, then closes. The last will (`offline`) is
///   transport configuration: build it with `lastWill(device:profile:agentVersion:)`.
/// - Inbound: it subscribes to `Configuration.subscriptions` (the device's assignment by
///   default) and hands every inbound message, and every connection change, to the closures
///   given at init, one at a time, in order. They must return quickly (start long work, such as
///   a download, in a task of its own): a `ChunkFetcher` needs this loop to keep delivering.
/// - Telemetry: every `telemetryInterval` while online it publishes one `Telemetry` (QoS 1,
///   directly, not through the outbox). Offline, the window keeps counting and the next message
///   covers it all, so telemetry never piles up; at most one is in flight.
/// - Outbox: an `OutboxDrainer` runs for the session's life, woken by new rows and by every
///   (re)connection; rows are deleted only after the broker acknowledged them.
/// - Events: `report(_:)` puts a `DeviceEvent` in the outbox (QoS 1, never lost).
public actor AgentSession {
    /// What the session announces and how often.
    public struct Configuration: Sendable {
        /// This device (the transport's client id should be the same).
        public var device: DeviceID
        /// The firmware profile's name, as status messages carry it.
        public var firmwareProfile: String
        /// The agent's version, as status messages carry it.
        public var agentVersion: String
        /// How often telemetry is sent while online.
        public var telemetryInterval: Duration
        /// Topic filters to subscribe to (chunk reply topics are subscribed by `ChunkFetcher`).
        public var subscriptions: [Subscription]
        /// How long `stop()` waits for the broker to take the `offline` status.
        public var stopTimeout: Duration
        /// How long to wait before calling `connect()` again after it failed.
        public var connectRetryDelay: Duration
        /// Tuning of the outbox drainer.
        public var outbox: OutboxDrainer.Options

        /// A configuration; by default telemetry every 60 s, the assignment topic, a 5 s stop timeout.
        public init(
            device: DeviceID, firmwareProfile: String, agentVersion: String = AgentVersion.current,
            telemetryInterval: Duration = .seconds(60), subscriptions: [Subscription]? = nil,
            stopTimeout: Duration = .seconds(5), connectRetryDelay: Duration = .seconds(5),
            outbox: OutboxDrainer.Options = OutboxDrainer.Options()
        ) {
            self.device = device
            self.firmwareProfile = firmwareProfile
            self.agentVersion = agentVersion
            self.telemetryInterval = telemetryInterval
            self.subscriptions = subscriptions ?? [Subscription(Topic.assignment(device).name)]
            self.stopTimeout = stopTimeout
            self.connectRetryDelay = connectRetryDelay
            self.outbox = outbox
        }
    }

    /// Receives each inbound message.
    public typealias MessageHandler = @Sendable (Message) async -> Void
    /// Receives each connection change.
    public typealias ConnectionHandler = @Sendable (TransportEvent) async -> Void

    /// The session's transport.
    public nonisolated let transport: any MessageTransport
    /// The store whose outbox is drained and whose feedback telemetry summarizes.
    public nonisolated let store: AgentStore
    /// The settings.
    public nonisolated let configuration: Configuration
    let window: TelemetryWindow
    let sampler: ProcessSampler
    let currentModel: @Sendable () -> ModelIdentity?
    let onMessage: MessageHandler
    let onConnection: ConnectionHandler
    let clock: any Clock<Duration>
    let wallClock: @Sendable () -> Int64
    let drainer: OutboxDrainer

    var machine = SessionStateMachine()
    var loops: [Task<Void, Never>] = []
    /// Loops stopped before the offline announcement (telemetry, drainer, connect).
    var producers: [Task<Void, Never>] = []
    /// Start of the telemetry window, ms since the epoch.
    var windowStart: Int64 = 0
    /// What telemetry reports about federated training for the served model (nil: nothing).
    var trainingReadiness: (@Sendable (String) async -> (canTrain: Bool, labelledExamples: Int?))?
    /// The last status published (online or offline), for tests and logs.
    var lastStatus: DeviceStatus?

    /// A session of `transport` for `configuration.device`. `window` is the one the inference
    /// service records into; `model` names the model being served; `clock` paces telemetry and
    /// retries (a `ManualClock` in tests); `wallClock` stamps messages (ms since the epoch).
    /// Throws `invalidConfiguration` if the firmware profile or agent version cannot be sent.
    public init<C: Clock>(
        transport: any MessageTransport, store: AgentStore, configuration: Configuration, window: TelemetryWindow,
        sampler: ProcessSampler, model: @escaping @Sendable () -> ModelIdentity? = { nil },
        clock: C = ContinuousClock(), wallClock: @escaping @Sendable () -> Int64 = StoreConfiguration.wallClockMilliseconds,
        onMessage: @escaping MessageHandler, onConnection: @escaping ConnectionHandler = { _ in }
    ) throws(SyncError) where C.Duration == Duration {
        _ = try Self.lastWill(
            device: configuration.device, profile: configuration.firmwareProfile, agentVersion: configuration.agentVersion)
        guard configuration.telemetryInterval > .zero else {
            throw SyncError(.invalidConfiguration, "the telemetry interval must be positive")
        }
        self.transport = transport
        self.store = store
        self.configuration = configuration
        self.window = window
        self.sampler = sampler
        self.currentModel = model
        self.clock = clock
        self.wallClock = wallClock
        self.onMessage = onMessage
        self.onConnection = onConnection
        drainer = OutboxDrainer(store: store, transport: transport, device: configuration.device, options: configuration.outbox)
    }

    /// Where the session is.
    public var state: SessionStateMachine.State { machine.state }

    /// Subscribes, starts the loops and connects in the background: returns without waiting
    /// for the broker, which may be unreachable for a long time (the outbox keeps everything).
    /// The first telemetry window starts here: counts recorded in `window` before are dropped.
    public func start() async throws(SyncError) {
        switch machine.handle(.start) {
        case .connect: break
        case .none, .refuse, .announceOnline, .sendTelemetry, .holdTelemetry, .announceOfflineAndClose, .close:
            throw SyncError(.alreadyStarted, "the sync session was already started (or stopped); make a new one")
        }
        for subscription in configuration.subscriptions {
            do {
                try await transport.subscribe(subscription.filter, qos: subscription.qos)
            } catch {
                throw SyncError(
                    .subscribeFailed, "cannot subscribe to '\(subscription.filter)': \(error.message)", underlying: error)
            }
        }
        // stop() may have run while subscribing (the actor is reentrant): start no loops then.
        guard machine.state == .connecting else { return }
        windowStart = wallClock()
        _ = window.snapshotAndReset()
        _ = sampler.sample()
        startLoops()
    }

    /// Publishes the retained `offline` status (waiting at most `stopTimeout` for the broker),
    /// closes the transport and waits for the loops. Outbox rows not yet acknowledged stay for
    /// the next session.
    public func stop(reason: String = "shutdown") async {
        switch machine.handle(.stop) {
        case .announceOfflineAndClose:
            for task in producers { task.cancel() }
            await announceOffline(reason: reason)
            await transport.close()
        case .close:
            await transport.close()
        case .none, .refuse, .connect, .announceOnline, .sendTelemetry, .holdTelemetry:
            break
        }
        for task in producers + loops { await task.value }
        producers = []
        loops = []
        _ = machine.handle(.closed)
    }

    /// Puts `event` in the outbox: it is published at QoS 1 on the device's events topic when
    /// connected, and kept across outages and restarts until the broker acknowledges it.
    public nonisolated func report(_ event: DeviceEvent) async throws(SyncError) {
        do {
            try await store.enqueue(event, kind: .event, on: .events(configuration.device))
        } catch {
            throw SyncError(
                .storeFailed, "cannot keep the \(event.kind.rawValue) event \(event.id) for sending", underlying: error)
        }
    }

    /// A new message id (`prefix-` and a random UUID), e.g. for a `DeviceEvent`.
    public nonisolated func makeMessageID(_ prefix: String) -> String {
        store.configuration.makeMessageID(prefix)
    }
}
