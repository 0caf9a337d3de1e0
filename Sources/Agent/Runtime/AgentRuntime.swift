import Core
import Synchronization

/// A running agent: the store, the models, the inference API, the update runner and, when a
/// broker is configured, the MQTT session that carries assignments, chunks and the outbox.
///
/// `start` brings the parts up in the order a restart needs: open the store, load the installed
/// models (verifying each package again), install bootstrap packages, serve, then let the update
/// runner recover from its journal, and last connect to the broker.
public final class AgentRuntime: Sendable {
    /// The configuration it runs with.
    public let configuration: AgentConfiguration
    /// The firmware profile it enforces.
    public let profile: FirmwareProfile
    /// This device.
    public let device: DeviceID
    /// The SQLite store.
    public let store: AgentStore
    /// The models serving.
    public let registry: ModelRegistry
    /// The inference API.
    public let service: InferenceService
    /// Package files and verification.
    public let installer: ModelInstaller
    /// Request outcomes per model version (probation).
    public let health: VersionHealth
    /// The update state machine's runner.
    public let updates: UpdateRunner
    /// The broker transport, if MQTT is enabled.
    public let transport: (any MessageTransport)?
    /// The sync session over `transport`, if MQTT is enabled.
    public var session: AgentSession? { sessionSlot.session }
    /// Windowed serving counters for telemetry.
    public let telemetry: TelemetryWindow
    /// The federated-learning client, if MQTT is enabled (tasks arrive through the broker).
    public let federated: FederatedService?
    let sessionSlot: SessionSlot
    /// The drift service's loop; it flushes partial windows when cancelled.
    let driftTask = Mutex<Task<Void, Never>?>(nil)
    let gate: AssignmentGate
    let downloader: ChunkDownloader?
    let tasks: TaskBag
    /// Assignment payloads, handled one at a time in arrival order.
    let assignments: AsyncStream<[UInt8]>.Continuation
    private let assignmentStream: AsyncStream<[UInt8]>
    let log: @Sendable (String) -> Void

    private init(
        configuration: AgentConfiguration, profile: FirmwareProfile, device: DeviceID, store: AgentStore, registry: ModelRegistry,
        service: InferenceService, installer: ModelInstaller, health: VersionHealth, telemetry: TelemetryWindow, updates: UpdateRunner,
        transport: (any MessageTransport)?, sessionSlot: SessionSlot, gate: AssignmentGate, downloader: ChunkDownloader?,
        federated: FederatedService?, log: @escaping @Sendable (String) -> Void
    ) {
        self.federated = federated
        self.sessionSlot = sessionSlot
        self.configuration = configuration
        self.profile = profile
        self.device = device
        self.store = store
        self.registry = registry
        self.service = service
        self.installer = installer
        self.health = health
        self.telemetry = telemetry
        self.updates = updates
        self.transport = transport
        self.gate = gate
        self.downloader = downloader
        self.tasks = TaskBag()
        (assignmentStream, assignments) = AsyncStream.makeStream(of: [UInt8].self)
        self.log = log
    }

    /// Starts every part. `transport` is the broker session (nil: offline only); `observer`
    /// sees every update state entered; `log` gets a line per notable thing.
    public static func start(
        configuration: AgentConfiguration, transport: (any MessageTransport)?, observer: UpdateRunner.Observer? = nil,
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) async throws -> AgentRuntime {
        let profile = try FirmwareProfile.load(named: configuration.profileName, from: configuration.profileDirectory)
        let budget = try profile.effectiveStorageBudget(configured: configuration.storageBudgetBytes)
        let revocations = try configuration.revocationFile.map { path throws(ArtifactError) in try RevocationList.read(path: path) }
        let trust = try TrustRing.read(path: configuration.trustRingFile, revocations: revocations ?? RevocationList())
        let device = try DeviceID(configuration.deviceID)
        try FileIO.createDirectory(configuration.dataDirectory)
        let store = try await AgentStore.open(
            StoreConfiguration(
                path: configuration.dataDirectory + "/agent.sqlite",
                inputLogging: configuration.inputPrivacy == .full ? .full : .digestOnly,
                budget: StorageBudget(maxBytes: Int64(budget))))
        let threads = configuration.inference.threads > 0 ? configuration.inference.threads : profile.threads
        let drift = try DriftService(store: store, device: device, configuration: configuration.drift)
        let registry = ModelRegistry(
            batching: BatchingConfiguration(
                maxBatch: configuration.inference.maxBatch, maxWait: configuration.inference.maxWait,
                maxQueuedRows: max(4096, configuration.inference.maxBatch)),
            metrics: ServingMetrics(), drift: drift)
        let verifier = PackageVerifier(
            trust: trust, target: PackageTarget(agentVersion: SemanticVersion(AgentVersion.current), profile: profile.name))
        let installer = ModelInstaller(dataDirectory: configuration.dataDirectory, verifier: verifier, profile: profile)
        try installer.prepare()
        for problem in await installer.loadInstalled(store: store, registry: registry) {
            log("model: \(problem)")
            try? await store.enqueue(
                AssignmentGate.errorEvent(UpdateFailure(.verificationFailed, problem), time: StoreConfiguration.wallClockMilliseconds()),
                kind: .event, on: .events(device))
        }
        for path in configuration.bootstrapPackages {
            if let installed = try await installer.bootstrap(path: path, store: store, registry: registry) {
                log("model: installed \(installed.name) \(installed.version) from \(path)")
            }
        }
        let health = VersionHealth()
        let telemetry = TelemetryWindow()
        let service = InferenceService(
            configuration: InferenceServiceConfiguration(
                host: configuration.http.host, port: configuration.http.port, unixSocketPath: configuration.http.unixSocket,
                maxBodyBytes: configuration.http.maxBodyBytes, threads: max(1, min(threads, 4))),
            registry: registry, log: store, telemetry: telemetry, health: health)
        let downloader = transport.map { ChunkDownloader(transport: $0, device: device, verifier: verifier) }
        let effects = DeviceUpdateEffects(
            installer: installer, store: store, registry: registry,
            downloader: downloader ?? OfflineDownloader(), health: health,
            rule: ProbationRule(
                maxErrorRateIncrease: configuration.updates.maxErrorRateIncrease,
                maxLatencyRatio: configuration.updates.maxLatencyRatio),
            probation: configuration.updates.probation, budget: MeteredBudget(profile: profile, store: store))
        let sessionSlot = SessionSlot()
        let updates = UpdateRunner(
            store: store, effects: effects,
            report: { event in
                if let reason = event.reason { log("update: \(event.phase?.rawValue ?? "-") \(event.modelVersion ?? ""): \(reason)") }
                try? await store.enqueue(event, kind: .event, on: .events(device))
            },
            observer: { state, plan in
                await observer?(state, plan)
                // The retained status names the model serving.
                if state == .probation || state.isSettled { await sessionSlot.session?.refreshStatus() }
            })
        let runtime = AgentRuntime(
            configuration: configuration, profile: profile, device: device, store: store, registry: registry, service: service,
            installer: installer, health: health, telemetry: telemetry, updates: updates, transport: transport,
            sessionSlot: sessionSlot, gate: AssignmentGate(device: device, trust: trust), downloader: downloader,
            federated: transport == nil
                ? nil
                : makeFederatedService(
                    configuration: configuration, profile: profile, device: device, store: store, registry: registry,
                    installer: installer, service: service, log: log),
            log: log)
        runtime.driftTask.withLock {
            $0 = Task { await drift.run(errors: { error in log("drift: \(error)") }) }
        }
        let port = try await service.start()
        log("serving on \(configuration.http.host):\(port)")
        let recovered = try await updates.start()
        if !recovered.isSettled { log("update: recovering from \(recovered.rawValue)") }
        await runtime.federated?.recover()
        if let transport {
            let stream = runtime.assignmentStream
            runtime.tasks.add(Task { for await payload in stream { await runtime.handleAssignment(payload) } })
            try await runtime.connect(transport)
        }
        return runtime
    }

    /// The bound HTTP port.
    public var port: Int? { service.port }

    /// Stops the session (retained offline status), the update runner, the API and the store.
    public func shutdown() async {
        await session?.stop(reason: "shutdown")
        assignments.finish()
        await tasks.cancelAll()
        await transport?.close()
        await updates.stop()
        await service.shutdown()
        if let drift = driftTask.withLock({ $0 }) {
            drift.cancel()
            await drift.value
        }
        await store.close()
    }
}

/// Used when no broker is configured: assignments cannot arrive, so nothing is downloaded.
struct OfflineDownloader: PackageDownloader {
    func fetch(_ plan: UpdatePlan, into directory: String) async throws(UpdateFailure) -> ModelPackage {
        throw UpdateFailure(.downloadFailed, "the agent runs without a broker (mqtt.enabled=false); it cannot fetch packages")
    }
}

/// The session, set once it exists (the update runner's observer refreshes its status).
final class SessionSlot: Sendable {
    private let slot = Mutex<AgentSession?>(nil)

    var session: AgentSession? {
        get { slot.withLock { $0 } }
        set { slot.withLock { $0 = newValue } }
    }
}
