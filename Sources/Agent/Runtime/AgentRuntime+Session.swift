import Core
import Synchronization

extension AgentRuntime {
    /// Connects, subscribes to the device's assignment and chunk topics, and routes what arrives.
    func connect(_ transport: any MessageTransport) async throws {
        let messages = transport.messages
        let events = transport.events
        tasks.add(Task { [self] in for await message in messages { await handle(message) } })
        tasks.add(Task { [self] in for await event in events { handle(event) } })
        tasks.add(Task { [self] in await OutboxDrainer(store: store, transport: transport, device: device).run() })
        try await transport.connect()
        try await transport.subscribe(Topic.assignment(device).name, qos: .atLeastOnce)
        try await transport.subscribe(Topic.chunks(device).name + "/#", qos: .atLeastOnce)
    }

    /// Routes an inbound message: assignments through the gate to the update runner, chunk
    /// frames to the download in progress.
    public func handle(_ message: Message) async {
        if message.topic == Topic.assignment(device).name {
            await handleAssignment(message.payload)
        } else {
            downloader?.receive(message)
        }
    }

    /// Routes a connection event to the download in progress.
    public func handle(_ event: TransportEvent) {
        downloader?.receive(event)
    }

    /// Evaluates an assignment and starts, ignores or refuses it.
    public func handleAssignment(_ payload: [UInt8]) async {
        guard !payload.isEmpty else { return }  // a cleared retained assignment
        let now = UpdateRunner.epochMilliseconds()
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
            try? await store.enqueue(AssignmentGate.refusalEvent(failure, time: now), kind: .event, on: .events(device))
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
