import Synchronization

/// Where a networked simulation's server and clients exchange their frames: a broker they each
/// open a session with, as the hub and the devices do.
public struct SimulationNetwork: Sendable {
    /// How the run reports it ("in-memory broker", "mqtt 127.0.0.1:1883").
    public var name: String
    /// Opens a connected session for the client id (the server's, or a device id).
    public var connect: @Sendable (String) async throws(TransportError) -> any MessageTransport
    /// How long the server waits for one round's updates.
    public var timeout: Duration

    /// A network of sessions `connect` opens.
    public init(
        name: String, timeout: Duration = .seconds(600),
        connect: @escaping @Sendable (String) async throws(TransportError) -> any MessageTransport
    ) {
        self.name = name
        self.timeout = timeout
        self.connect = connect
    }

    /// A fresh in-process broker (`InMemoryBroker`): the protocol's routing without sockets.
    public static func inMemory(timeout: Duration = .seconds(600)) -> SimulationNetwork {
        let broker = InMemoryBroker()
        return SimulationNetwork(name: "in-memory broker", timeout: timeout) { id throws(TransportError) in
            let transport = InMemoryTransport(broker: broker, clientID: id, options: .init(cleanStart: true))
            try await transport.connect()
            return transport
        }
    }
}

extension FederatedSimulation {
    /// The client id of the simulated server's session.
    public static let serverClientID = "starling-sim-server"

    /// Runs every round with `strategy` over `network`: the server publishes each round's task
    /// frame on every selected device's `fl/task` topic, each client answers on its `fl/update`
    /// topic from its own session, and the server feeds the updates to its `RoundCoordinator` in
    /// client order, so the result equals the in-process run's. The bytes are counted at the
    /// devices' transports, both ways, as MQTT packets (`CountingTransport`).
    public func run(
        strategy: any AggregationStrategy, over network: SimulationNetwork,
        progress: @Sendable (SimulationRound) -> Void = { _ in }
    ) async throws(FederationError) -> SimulationResult {
        let c = configuration
        let layout = ParameterLayout(graph: graph)
        var coordinator = try makeCoordinator(strategy: strategy, layout: layout)
        let clients = makeClients(layout: layout)
        let mailbox = Mailbox()

        let server = try await open(network, Self.serverClientID)
        var devices: [CountingTransport] = []
        var answering: [Task<Void, Never>] = []
        defer {
            for task in answering { task.cancel() }
        }
        let receiving = Task {
            for await message in server.messages {
                guard case .flUpdate(let device)? = try? Topic(parsing: message.topic) else { continue }
                mailbox.deliver(message.payload, from: device.rawValue)
            }
        }
        defer { receiving.cancel() }
        do {
            try await subscribe(server, Subscription.filter(forEvery: .flUpdate))
            for client in clients {
                let transport = try await open(network, client.client.device)
                devices.append(transport)
                try await subscribe(transport, Topic.flTask(DeviceID(unchecked: client.client.device)).name)
                answering.append(answer(as: client, on: transport, mailbox: mailbox))
            }
            var rounds: [SimulationRound] = []
            for round in 1...c.rounds {
                let started = ContinuousClock.now
                let (now, learningRate, selected, frame) = try openRound(round, on: &coordinator)
                let before = devices.map(\.count)
                let payload = try Self.encoded(frame)
                for i in selected {
                    let topic = Topic.flTask(DeviceID(unchecked: participants[i].id)).name
                    try await publish(server, Message(topic: topic, payload: payload, qos: .atLeastOnce))
                }
                let wires = try await collect(
                    from: selected.map { participants[$0].id }, task: frame.task.id, mailbox: mailbox,
                    timeout: network.timeout, round: round)
                var refused = 0
                for (i, wire) in zip(selected, wires) {
                    if try receive(wire, from: clients[i], into: &coordinator, now: now) { refused += 1 }
                }
                let traffic = zip(devices, before).map { $0.count.since($1) }
                let record = try close(
                    &coordinator, round: round, selected: selected, clients: clients, refused: refused,
                    bytesDown: traffic.reduce(0) { $0 + $1.bytesReceived }, bytesUp: traffic.reduce(0) { $0 + $1.bytesSent },
                    learningRate: learningRate, layout: layout, started: started)
                rounds.append(record)
                progress(record)
            }
            await closeAll(devices + [server])
            return SimulationResult(rounds: rounds, parameters: coordinator.global)
        } catch {
            await closeAll(devices + [server])
            throw error
        }
    }

    /// The client's side: answer each task frame on its session until the session ends.
    private func answer(
        as client: SimulatedClient, on transport: CountingTransport, mailbox: Mailbox
    ) -> Task<Void, Never> {
        let simulation = self
        let topic = Topic.flUpdate(DeviceID(unchecked: client.client.device)).name
        return Task {
            var client = client
            for await message in transport.messages {
                do throws(FederationError) {
                    let frame: FLTaskFrame
                    do throws(ProtocolError) {
                        frame = try FLTaskFrame(parsing: message.payload)
                    } catch {
                        throw FederationError(.malformed, "a task frame could not be parsed: \(error.message)")
                    }
                    let update = try client.respond(
                        to: frame, in: simulation, round: frame.task.roundNumber, now: frame.task.time)
                    do throws(TransportError) {
                        try await transport.publish(Message(topic: topic, payload: update.encoded(), qos: .atLeastOnce))
                    } catch {
                        throw FederationError(.network, "publishing the update failed: \(error.message)")
                    }
                } catch {
                    mailbox.fail("client \(client.client.device): \(error.message)")
                }
            }
        }
    }

    /// The update frames of `devices` for `task`, in that order, once all have come.
    private func collect(
        from devices: [String], task: String, mailbox: Mailbox, timeout: Duration, round: Int
    ) async throws(FederationError) -> [[UInt8]] {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let message = mailbox.failure { throw FederationError(.training, message) }
            if let ready = mailbox.take(devices, task: task) { return ready }
            guard ContinuousClock.now < deadline else {
                let missing = mailbox.missing(devices)
                throw FederationError(
                    .network, "round \(round): no update from \(missing.prefix(5).joined(separator: ", ")) within \(timeout)")
            }
            try? await Task.sleep(for: .milliseconds(2))
        }
    }

    private func open(_ network: SimulationNetwork, _ id: String) async throws(FederationError) -> CountingTransport {
        do {
            return CountingTransport(try await network.connect(id))
        } catch {
            throw FederationError(.network, "\(network.name): cannot connect as \(id): \(error.message)")
        }
    }

    private func subscribe(_ transport: CountingTransport, _ filter: String) async throws(FederationError) {
        do {
            try await transport.subscribe(filter, qos: .atLeastOnce)
        } catch {
            throw FederationError(.network, "subscribing \(transport.clientID) to \(filter) failed: \(error.message)")
        }
    }

    private func publish(_ transport: CountingTransport, _ message: Message) async throws(FederationError) {
        do {
            try await transport.publish(message)
        } catch {
            throw FederationError(.network, "publishing to \(message.topic) failed: \(error.message)")
        }
    }

    private func closeAll(_ transports: [CountingTransport]) async {
        for transport in transports { await transport.close() }
    }
}

/// The server's side of the wire in a networked simulation: the latest update frame from each
/// device with the task it answers (read once, on arrival), and the first failure a client reported.
final class Mailbox: Sendable {
    private struct State {
        var updates: [String: (task: String?, wire: [UInt8])] = [:]
        var failure: String?
    }
    private let state = Mutex(State())

    func deliver(_ wire: [UInt8], from device: String) {
        let task = (try? FLUpdateFrame(parsing: wire))?.header.unverified.taskId
        state.withLock { $0.updates[device] = (task, wire) }
    }

    func fail(_ message: String) {
        state.withLock { $0.failure = $0.failure ?? message }
    }

    var failure: String? { state.withLock { $0.failure } }

    /// The frames of `devices` answering `task`, in that order, removed from the box; nil until
    /// every one has come.
    func take(_ devices: [String], task: String) -> [[UInt8]]? {
        state.withLock { box in
            let found = devices.compactMap { box.updates[$0].flatMap { $0.task == task ? $0.wire : nil } }
            guard found.count == devices.count else { return nil }
            for device in devices { box.updates[device] = nil }
            return found
        }
    }

    /// Which of `devices` have not answered.
    func missing(_ devices: [String]) -> [String] {
        state.withLock { box in devices.filter { box.updates[$0] == nil } }
    }
}
