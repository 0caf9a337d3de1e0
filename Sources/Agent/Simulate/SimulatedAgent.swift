import Core
import Synchronization

/// One simulated device: a real protocol peer without a model runtime.
///
/// It has what a real agent has on the wire and on disk: its own `MessageTransport` session
/// (retained `online` status, `offline` last will, telemetry, the outbox), its own SQLite store
/// (`AgentStore`, the agent's migrations), the agent's `AssignmentGate`, `UpdateRunner` (journal,
/// events, recovery) and `ChunkDownloader`, and `PackageVerifier` on every package. It does not
/// compile or serve models: its requests are generated (`SimulatedTraffic`) and recorded where
/// the inference path would record them (telemetry window, probation health, prediction log and
/// labels), so its telemetry is computed by the agent's own code.
public final class SimulatedAgent: Sendable {
    /// Where the agent stands, for progress lines.
    public struct Snapshot: Sendable, Equatable {
        /// Connected to the broker now.
        public var connected: Bool
        /// The version of the simulated model serving, if any.
        public var version: String?
        /// An update is in progress.
        public var updating: Bool
        /// The last update ended failed or rolled back.
        public var failed: Bool
        /// Assignments refused so far.
        public var refused: Int
        /// The newest update state entered (nil before any).
        public var state: UpdateState?
        /// When the first download of each version began (this run).
        public var downloadStarted: [String: ContinuousClock.Instant] = [:]
        /// When each version was committed (this run).
        public var committed: [String: ContinuousClock.Instant] = [:]
    }

    /// The device.
    public let device: SimulatedDevice
    /// Its store.
    public let store: AgentStore
    /// Its broker session.
    public let transport: any MessageTransport
    /// Its sync session.
    public let session: AgentSession
    /// Its update runner.
    public let updates: UpdateRunner
    /// What it serves.
    public let serving: ServingVersions
    let settings: SimulationSettings
    let gate: AssignmentGate
    let downloader: ChunkDownloader
    let health: VersionHealth
    let window: TelemetryWindow
    private let traffic: Mutex<SimulatedTraffic>
    private let status: AgentStatus
    private let assignments: AsyncStream<[UInt8]>.Continuation
    private let handling: Mutex<Task<Void, Never>?> = Mutex(nil)
    private let log: @Sendable (String) -> Void

    private init(
        device: SimulatedDevice, settings: SimulationSettings, store: AgentStore, transport: any MessageTransport,
        session: AgentSession, updates: UpdateRunner, serving: ServingVersions, gate: AssignmentGate,
        downloader: ChunkDownloader, health: VersionHealth, window: TelemetryWindow, status: AgentStatus,
        assignments: AsyncStream<[UInt8]>.Continuation, log: @escaping @Sendable (String) -> Void
    ) {
        self.status = status
        self.device = device
        self.settings = settings
        self.store = store
        self.transport = transport
        self.session = session
        self.updates = updates
        self.serving = serving
        self.gate = gate
        self.downloader = downloader
        self.health = health
        self.window = window
        self.assignments = assignments
        self.log = log
        traffic = Mutex(SimulatedTraffic(seed: settings.seed, index: device.index, noise: settings.noise))
    }

    /// The directory of `device`'s store and packages.
    public static func directory(of device: SimulatedDevice, in settings: SimulationSettings) -> String {
        settings.dataDirectory + "/" + device.id.rawValue
    }

    /// Opens the store (recording the initial model version the first time), recovers the
    /// update journal and starts the session over `transport` (connecting in the background).
    /// `transport` must carry `lastWill(for:settings:)` as its will.
    public static func start(
        device: SimulatedDevice, settings: SimulationSettings, transport: any MessageTransport,
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) async throws(SimulationError) -> SimulatedAgent {
        let directory = directory(of: device, in: settings)
        let store: AgentStore
        do {
            try FileIO.createDirectory(directory)
            store = try await AgentStore.open(
                StoreConfiguration(
                    path: directory + "/agent.sqlite", inputLogging: .digestOnly,
                    budget: StorageBudget(maxBytes: Int64(settings.profile.storageBudgetBytes))))
        } catch {
            throw SimulationError(.startFailed, "\(device.id): cannot open the store in \(directory)", underlying: error)
        }
        do {
            return try await start(device: device, settings: settings, transport: transport, store: store, log: log)
        } catch {
            await store.close()
            throw error
        }
    }

    private static func start(
        device: SimulatedDevice, settings: SimulationSettings, transport: any MessageTransport, store: AgentStore,
        log: @escaping @Sendable (String) -> Void
    ) async throws(SimulationError) -> SimulatedAgent {
        let directory = directory(of: device, in: settings)
        let serving = ServingVersions()
        do {
            try await recordInitialModel(settings: settings, store: store, directory: directory)
            for model in try await store.installedModels() where model.state == .active {
                serving.set(model.version, for: model.name)
            }
        } catch {
            throw SimulationError(.startFailed, "\(device.id): cannot read or record the installed model", underlying: error)
        }
        let verifier = PackageVerifier(
            trust: settings.trust,
            target: PackageTarget(agentVersion: SemanticVersion(settings.agentVersion), profile: settings.profile.name))
        let installer = ModelInstaller(dataDirectory: directory, verifier: verifier, profile: settings.profile)
        let downloader = ChunkDownloader(transport: transport, device: device.id, verifier: verifier)
        let health = VersionHealth(capacity: 256)
        let effects = SimulatedUpdateEffects(
            base: DeviceUpdateEffects(
                installer: installer, store: store, registry: ModelRegistry(), downloader: downloader, health: health,
                rule: settings.rule, probation: settings.probation, budget: MeteredBudget(profile: settings.profile, store: store)
            ),
            serving: serving)
        let slot = SessionSlot()
        let status = AgentStatus()
        let id = device.id
        let updates = UpdateRunner(
            store: store, effects: effects,
            report: { event in
                if let reason = event.reason {
                    log("\(id): update \(event.phase?.rawValue ?? "-") \(event.modelVersion ?? ""): \(reason)")
                }
                try? await store.enqueue(event, kind: .event, on: .events(id))
            },
            observer: { state, plan in
                status.update { $0.enter(state, version: plan?.modelVersion) }
                if state == .probation || state.isSettled { await slot.session?.refreshStatus() }
            })
        let window = TelemetryWindow()
        let (stream, continuation) = AsyncStream.makeStream(of: [UInt8].self)
        let downloaderRef = downloader
        let assignmentTopic = Topic.assignment(device.id).name
        let model = settings.model.rawValue
        let session: AgentSession
        do {
            session = try AgentSession(
                transport: transport, store: store,
                configuration: AgentSession.Configuration(
                    device: device.id, firmwareProfile: settings.profile.name, agentVersion: settings.agentVersion,
                    telemetryInterval: settings.telemetryInterval),
                window: window, sampler: ProcessSampler(dataDirectory: directory),
                model: { serving.identity(preferring: model) },
                onMessage: { message in
                    if message.topic == assignmentTopic {
                        continuation.yield(message.payload)
                    } else {
                        downloaderRef.receive(message)
                    }
                },
                onConnection: { event in
                    switch event {
                    case .connected:
                        status.update { $0.connected = true }
                    case .disconnected(let reason):
                        status.update { $0.connected = false }
                        log("\(id): disconnected: \(reason)")
                    }
                    downloaderRef.receive(event)
                })
        } catch {
            throw SimulationError(.startFailed, "\(device.id): cannot make the sync session", underlying: error)
        }
        slot.session = session
        let agent = SimulatedAgent(
            device: device, settings: settings, store: store, transport: transport, session: session, updates: updates,
            serving: serving, gate: AssignmentGate(device: device.id, trust: settings.trust), downloader: downloader,
            health: health, window: window, status: status, assignments: continuation, log: log)
        do {
            let recovered = try await updates.start()
            if recovered != .idle { status.update { $0.state = recovered } }
        } catch {
            throw SimulationError(.startFailed, "\(device.id): cannot read the update journal", underlying: error)
        }
        agent.handling.withLock { $0 = Task { for await payload in stream { await agent.handleAssignment(payload) } } }
        do {
            try await session.start()
        } catch {
            await agent.stop()
            throw SimulationError(.startFailed, "\(device.id): cannot start the sync session", underlying: error)
        }
        return agent
    }
}

extension SimulatedAgent {
    // MARK: - Life

    /// The last will a simulated device's transport carries: the agent's retained `offline` status.
    public static func lastWill(for device: SimulatedDevice, settings: SimulationSettings) throws(SimulationError) -> Message {
        do {
            return try AgentSession.lastWill(
                device: device.id, profile: settings.profile.name, agentVersion: settings.agentVersion)
        } catch {
            throw SimulationError(.invalidSetting, "\(device.id): the status message cannot be sent", underlying: error)
        }
    }

    /// Publishes `offline`, closes the session, stops the update runner and closes the store.
    public func stop() async {
        await session.stop(reason: "shutdown")
        assignments.finish()
        let task = handling.withLock { $0 }
        task?.cancel()
        await transport.close()
        await updates.stop()
        await store.close()
    }

    /// Where the agent stands.
    public var snapshot: Snapshot {
        let now = status.read()
        let settled = now.state?.isSettled ?? true
        return Snapshot(
            connected: now.connected, version: serving.version(of: settings.model.rawValue), updating: !settled,
            failed: now.state == .failed || now.state == .rolledBack, refused: now.refused, state: now.state,
            downloadStarted: now.downloadStarted, committed: now.committed)
    }

    // MARK: - Assignments

    /// Evaluates an assignment with the agent's gate and starts, ignores or refuses it, as the
    /// real agent does (`AgentRuntime.handleAssignment`).
    func handleAssignment(_ payload: [UInt8]) async {
        guard !payload.isEmpty else { return }  // a cleared retained assignment
        let now = StoreConfiguration.wallClockMilliseconds()
        let serving = serving
        let decision = await gate.evaluate(payload, now: now, store: store) { name in serving.version(of: name) }
        switch decision {
        case .accept(let plan):
            await updates.submit(plan)
        case .ignore:
            break
        case .refuse(let failure):
            status.update { $0.refused += 1 }
            log("\(device.id): assignment refused: \(failure.reason)")
            try? await store.enqueue(AssignmentGate.errorEvent(failure, time: now), kind: .event, on: .events(device.id))
        }
    }

    // MARK: - Traffic

    /// Generates `seconds` of requests to the serving version and records them where the
    /// inference path would: the telemetry window, the probation health, and for labelled ones
    /// the prediction log with its label (so telemetry's feedback accuracy and the outbox's
    /// feedback batches come from the store, as on a real device). Only labelled predictions are
    /// logged: a simulated device has no inputs worth keeping.
    public func generateTraffic(seconds: Double) async {
        let model = settings.model.rawValue
        guard let version = serving.version(of: model) else { return }
        let behaviour = settings.behaviours.behaviour(of: version)
        let requests = traffic.withLock { $0.requests(over: seconds, behaviour: behaviour) }
        guard !requests.isEmpty else { return }
        let now = StoreConfiguration.wallClockMilliseconds()
        var labels: [FeedbackInput] = []
        for (index, request) in requests.enumerated() {
            if request.failed {
                window.recordFailure()
                health.recordFailure(model: model, version: version)
                continue
            }
            window.recordSuccess(latency: .microseconds(request.latencyMicroseconds))
            health.recordSuccess(model: model, version: version, latencyMicroseconds: request.latencyMicroseconds)
            guard let matches = request.labelMatches else { continue }
            let id = StoreConfiguration.randomMessageID("sim")
            let predicted = String(index % 10)
            _ = store.record(
                PredictionRecord(
                    requestID: id, time: now, modelName: model, modelVersion: version, inputs: "[]",
                    outputs: #"[{"name":"label","datatype":"BYTES","shape":[1],"data":["\#(predicted)"]}]"#,
                    latencyMicroseconds: request.latencyMicroseconds))
            labels.append(FeedbackInput(predictionID: id, label: matches ? predicted : String((index + 1) % 10), time: now))
        }
        if !labels.isEmpty { _ = try? await store.attachFeedback(labels) }
    }

    // MARK: - Start-up

    /// Records `settings.model` at `settings.version` as active when no version of it is
    /// installed yet. It has no package file: a simulated device starts without model bytes.
    static func recordInitialModel(settings: SimulationSettings, store: AgentStore, directory: String) async throws {
        let name = settings.model.rawValue
        guard try await store.installedModels(name: name).isEmpty else { return }
        try await store.saveInstalledModel(
            InstalledModel(
                name: name, version: settings.version, path: directory + "/packages/simulated-\(name)-\(settings.version)",
                digest: PackageDigest.sha256(Array("simulated \(name) \(settings.version)".utf8)), state: .active,
                installed: StoreConfiguration.wallClockMilliseconds()))
    }
}

/// What a simulated agent's callbacks learn about it (connection, update state, refusals).
final class AgentStatus: Sendable {
    struct Value: Sendable {
        var connected = false
        var state: UpdateState?
        var refused = 0
        /// When the first download of each version began.
        var downloadStarted: [String: ContinuousClock.Instant] = [:]
        /// When each version was committed.
        var committed: [String: ContinuousClock.Instant] = [:]

        mutating func enter(_ state: UpdateState, version: String?) {
            self.state = state
            guard let version else { return }
            let now = ContinuousClock.now
            if state == .downloading && downloadStarted[version] == nil { downloadStarted[version] = now }
            if state == .committed { committed[version] = now }
        }
    }

    private let value = Mutex(Value())

    func update(_ body: (inout Value) -> Void) {
        value.withLock { body(&$0) }
    }

    func read() -> Value {
        value.withLock { $0 }
    }
}
