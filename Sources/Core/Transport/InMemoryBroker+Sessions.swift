/// What `InMemoryTransport` asks of the broker, and the session life cycle behind it.
extension InMemoryBroker {
    /// A transport's connection as the broker models it (client library and network included).
    struct Client {
        enum State { case idle, connected, reconnecting, closed }

        let transport: InMemoryTransport
        var state = State.idle
        /// Subscriptions the transport made; re-applied to a fresh session on reconnect.
        var filters: [String: QoS] = [:]
        /// QoS 1 publishes sent and not yet acknowledged (at most `maxInflight`).
        var inflight: [Publish] = []
        /// QoS 1 publishes waiting for room in the window or for a connection.
        var waiting: [Publish] = []
    }

    /// A QoS 1 publish and the caller waiting for its acknowledgement.
    struct Publish {
        let message: Message
        let continuation: CheckedContinuation<Result<Void, TransportError>, Never>
    }

    /// The broker's state for a client id.
    struct Session {
        var subscriptions: [String: QoS] = [:]
        /// QoS 1 messages to send when the client is (back) online.
        var queue: [Message] = []
        /// The connected transport, if any.
        var owner: ObjectIdentifier?
        /// Clean start: the session ends with the connection (session expiry 0).
        var endsWithConnection: Bool
    }

    // MARK: - Transport requests

    func connect(_ transport: InMemoryTransport) throws(TransportError) {
        guard !transport.clientID.isEmpty, !transport.clientID.utf8.contains(0) else {
            throw TransportError(.connectionFailed, "the client id must be non-empty and free of NUL characters")
        }
        let key = register(transport)
        switch clients[key]!.state {
        case .closed: throw TransportError(.closed, "the transport is closed")
        case .connected: return
        case .idle, .reconnecting: break
        }
        guard isRunning else { throw TransportError(.connectionFailed, "the broker is not running") }
        guard !partitioned.contains(transport.clientID) else {
            throw TransportError(.connectionFailed, "the broker is unreachable from \(transport.clientID)")
        }
        establish(key)
    }

    func publish(_ message: Message, from transport: InMemoryTransport) async throws(TransportError) {
        do {
            try TopicFilter.validateTopicName(message.topic)
        } catch {
            throw error.transportError
        }
        guard message.payload.count <= maxPayloadBytes else {
            throw TransportError(
                .tooLarge, "the payload is \(message.payload.count) bytes; the broker accepts \(maxPayloadBytes)")
        }
        let key = ObjectIdentifier(transport)
        guard let client = clients[key], client.state != .idle else {
            throw TransportError(.connectionFailed, "not connected; call connect() first")
        }
        guard client.state != .closed else { throw TransportError(.closed, "the transport is closed") }
        guard message.qos == .atLeastOnce else {
            if client.state == .connected { route(message) }
            return
        }
        let result = await withCheckedContinuation { continuation in
            clients[key]?.waiting.append(Publish(message: message, continuation: continuation))
            pump(key)
        }
        try result.get()
    }

    func subscribe(_ filter: String, qos: QoS, from transport: InMemoryTransport) throws(TransportError) {
        do {
            try TopicFilter.validate(filter)
        } catch {
            throw error.transportError
        }
        let key = register(transport)
        guard clients[key]!.state != .closed else { throw TransportError(.closed, "the transport is closed") }
        clients[key]!.filters[filter] = qos
        if clients[key]!.state == .connected { applySubscription(filter, qos: qos, clientID: transport.clientID) }
    }

    func unsubscribe(_ filter: String, from transport: InMemoryTransport) throws(TransportError) {
        do {
            try TopicFilter.validate(filter)
        } catch {
            throw error.transportError
        }
        let key = register(transport)
        guard clients[key]!.state != .closed else { throw TransportError(.closed, "the transport is closed") }
        clients[key]!.filters[filter] = nil
        if clients[key]!.state == .connected { sessions[transport.clientID]?.subscriptions[filter] = nil }
    }

    func close(_ transport: InMemoryTransport) {
        let key = ObjectIdentifier(transport)
        guard var client = clients[key] else { return }
        if client.state == .connected { endConnection(key, clientID: transport.clientID) }
        client.state = .closed
        for publish in client.inflight + client.waiting {
            publish.continuation.resume(returning: .failure(TransportError(.closed, "the transport was closed")))
        }
        client.inflight = []
        client.waiting = []
        // Kept (closed) so later calls fail with `.closed`; the record also pins the object
        // identity, so a new transport cannot be mistaken for this one.
        clients[key] = client
    }

    // MARK: - Connections

    private func register(_ transport: InMemoryTransport) -> ObjectIdentifier {
        let key = ObjectIdentifier(transport)
        if clients[key] == nil {
            clients[key] = Client(transport: transport)
            clientOrder.append(key)
        }
        return key
    }

    /// Opens the session (fresh or resumed), re-subscribes, sends what queued up, and lets the
    /// waiting publishes out.
    private func establish(_ key: ObjectIdentifier) {
        let client = clients[key]!
        let id = client.transport.clientID
        let options = client.transport.options
        if let owner = sessions[id]?.owner, owner != key { takeOver(owner) }
        let present = !options.cleanStart && sessions[id] != nil
        if !present { sessions[id] = Session(endsWithConnection: options.cleanStart) }
        sessions[id]!.owner = key
        sessions[id]!.endsWithConnection = options.cleanStart
        clients[key]!.state = .connected
        client.transport.eventSink.yield(.connected(sessionPresent: present))
        for (filter, qos) in client.filters.sorted(by: { $0.key < $1.key }) where sessions[id]?.subscriptions[filter] != qos {
            applySubscription(filter, qos: qos, clientID: id)
        }
        let queued = sessions[id]!.queue
        sessions[id]!.queue = []
        for message in queued { deliver(message, qos: message.qos, to: id) }
        pump(key)
    }

    /// Ends a connection without a clean close; the transport reconnects when it can.
    func drop(_ key: ObjectIdentifier, reason: String, publishWill: Bool) {
        guard var client = clients[key], client.state == .connected else { return }
        // Unacknowledged publishes are sent again after the reconnect, first.
        client.waiting = client.inflight + client.waiting
        client.inflight = []
        client.state = .reconnecting
        clients[key] = client
        endConnection(key, clientID: client.transport.clientID)
        client.transport.eventSink.yield(.disconnected(reason: reason))
        if publishWill, let will = client.transport.options.will { route(will) }
        reconnectIfPossible(key)
    }

    func reconnectIfPossible(_ key: ObjectIdentifier) {
        guard let client = clients[key], client.state == .reconnecting, isRunning,
            !partitioned.contains(client.transport.clientID)
        else { return }
        establish(key)
    }

    /// A new connection with the same client id replaced this one (MQTT "session taken over"):
    /// the will is published and the old transport stops.
    private func takeOver(_ key: ObjectIdentifier) {
        guard let client = clients[key] else { return }
        endConnection(key, clientID: client.transport.clientID)
        client.transport.eventSink.yield(.disconnected(reason: "session taken over by another connection"))
        if let will = client.transport.options.will { route(will) }
        for publish in client.inflight + client.waiting {
            publish.continuation.resume(returning: .failure(TransportError(.closed, "the session was taken over")))
        }
        clients[key]!.state = .closed
        clients[key]!.inflight = []
        clients[key]!.waiting = []
        client.transport.messageSink.finish()
        client.transport.eventSink.finish()
    }

    private func endConnection(_ key: ObjectIdentifier, clientID: String) {
        guard sessions[clientID]?.owner == key else { return }
        sessions[clientID]!.owner = nil
        if sessions[clientID]!.endsWithConnection { sessions[clientID] = nil }
    }

    /// Moves waiting publishes into the in-flight window; processes them unless acks are held.
    func pump(_ key: ObjectIdentifier) {
        while let client = clients[key], client.state == .connected,
            client.inflight.count < client.transport.options.maxInflight, let next = client.waiting.first
        {
            clients[key]!.waiting.removeFirst()
            if holdingAcks {
                clients[key]!.inflight.append(next)
            } else {
                route(next.message)
                next.continuation.resume(returning: .success(()))
            }
        }
    }
}
