import Core
import Synchronization

extension AgentRuntime {
    /// Starts the sync session: presence, telemetry and the outbox, with inbound messages routed
    /// here. It connects in the background, so an agent without a broker serves all the same.
    func connect(_ transport: any MessageTransport) async throws {
        let session = try AgentSession(
            transport: transport, store: store,
            configuration: AgentSession.Configuration(
                device: device, firmwareProfile: profile.name, telemetryInterval: configuration.telemetryInterval,
                subscriptions: [Subscription(Topic.assignment(device).name), Subscription(Topic.flTask(device).name)]),
            window: telemetry, sampler: ProcessSampler(dataDirectory: configuration.dataDirectory),
            model: { [registry] in ModelIdentity.active(in: registry) },
            onMessage: { [self] message in route(message) },
            onConnection: { [self] event in handle(event) })
        if let federated {
            await session.reportTrainingReadiness { model in await federated.readiness(model: model) }
        }
        sessionSlot.session = session
        try await session.start()
    }

    /// Routes an inbound message without waiting: assignments through the gate to the update
    /// runner (in a task of their own, in arrival order), federated tasks to the federated
    /// client, chunk frames to the download in progress.
    public func route(_ message: Message) {
        if message.topic == Topic.assignment(device).name {
            assignments.yield(message.payload)
        } else if message.topic == Topic.flTask(device).name, let federated {
            let payload = message.payload
            Task { await federated.receive(payload) }
        } else {
            downloader?.receive(message)
        }
    }

    /// Routes a connection event to the download in progress; on reconnection, federated
    /// updates whose deadline passed leave the outbox before it drains.
    public func handle(_ event: TransportEvent) {
        downloader?.receive(event)
        if case .connected = event, let federated {
            Task { await federated.dropExpiredUpdates() }
        }
    }

    /// Evaluates an assignment and starts, ignores or refuses it.
    public func handleAssignment(_ payload: [UInt8]) async {
        guard !payload.isEmpty else { return }  // a cleared retained assignment
        let now = StoreConfiguration.wallClockMilliseconds()
        let registry = registry
        let decision = await gate.evaluate(payload, now: now, store: store) { name in registry.versions(of: name)?.active }
        switch decision {
        case .accept(let plan):
            log("assignment: \(plan.assignmentId) accepted: \(plan.modelName) \(plan.modelVersion)")
            await updates.submit(plan)
        case .ignore(let why):
            log("assignment: ignored: \(why)")
        case .refuse(let failure):
            log("assignment: refused: \(failure.reason)")
            try? await store.enqueue(AssignmentGate.errorEvent(failure, time: now), kind: .event, on: .events(device))
        }
    }
}

/// Tasks a runtime started, cancelled together at shutdown.
final class TaskBag: Sendable {
    private let tasks = Mutex<[Task<Void, Never>]>([])

    func add(_ task: Task<Void, Never>) {
        tasks.withLock { $0.append(task) }
    }

    func cancelAll() async {
        let all = tasks.withLock { t in
            defer { t.removeAll() }
            return t
        }
        for task in all { task.cancel() }
    }
}
