/// An MQTT 5 broker in memory, for unit tests of everything that talks through `MessageTransport`.
///
/// It keeps what Mosquitto keeps: sessions (subscriptions and queued QoS 1 messages of clients
/// with clean start off, also across `stop()`/`start()`, as with persistence on), retained
/// messages (delivered on subscribe, cleared by an empty retained payload, never sent to shared
/// subscriptions), last wills (published when a connection drops without a clean close), and
/// shared subscriptions (`$share/{group}/...`, one member per message, round robin, connected
/// members first). Topic matching is `TopicFilter.matches`.
///
/// Faults are injected explicitly and everything is deterministic: no wall clock, no timers,
/// no background tasks. Tests wait for effects by yielding, never by sleeping.
public actor InMemoryBroker {
    /// The largest payload accepted (MQTT's maximum packet size by default).
    public let maxPayloadBytes: Int

    var clients: [ObjectIdentifier: Client] = [:]
    var clientOrder: [ObjectIdentifier] = []
    var sessions: [String: Session] = [:]
    var retained: [String: Message] = [:]
    var shareCursor: [String: Int] = [:]
    var isRunning = true
    var partitioned: Set<String> = []
    var dropBudget = 0
    var duplicateBudget = 0
    var holdingAcks = false

    /// An empty, running broker.
    public init(maxPayloadBytes: Int = 268_435_455) {
        self.maxPayloadBytes = maxPayloadBytes
    }

    // MARK: - Fault injection

    /// Loses the next `count` deliveries to subscribers, as a broken link would. A lost QoS 1
    /// delivery stays unacknowledged in the session and is sent again when the client reconnects
    /// (if its session survives); a lost QoS 0 delivery is gone.
    public func dropNext(_ count: Int) {
        dropBudget += Swift.max(0, count)
    }

    /// Delivers each of the next `count` deliveries twice, as a retransmission after a lost
    /// acknowledgement would.
    public func duplicateNext(_ count: Int) {
        duplicateBudget += Swift.max(0, count)
    }

    /// Drops the connections of `clientID` as a network failure would: the broker publishes
    /// their last wills, the transports report `.disconnected` and reconnect at once.
    public func disconnect(_ clientID: String, reason: String = "connection lost") {
        for key in keys(of: clientID) { drop(key, reason: reason, publishWill: true) }
    }

    /// Cuts `clientID` off the network: like `disconnect`, but reconnecting fails until `heal`.
    public func partition(_ clientID: String) {
        partitioned.insert(clientID)
        disconnect(clientID, reason: "network unreachable")
    }

    /// Restores the network of `clientID`; its transports reconnect.
    public func heal(_ clientID: String) {
        partitioned.remove(clientID)
        for key in keys(of: clientID) { reconnectIfPossible(key) }
    }

    /// Stops the broker: every connection drops (no wills, as in a broker crash or restart);
    /// sessions and retained messages survive (persistence on); reconnecting fails until `start`.
    public func stop() {
        isRunning = false
        for key in clientOrder where clients[key]?.state == .connected {
            drop(key, reason: "broker stopped", publishWill: false)
        }
    }

    /// Starts a stopped broker; transports waiting to reconnect do so.
    public func start() {
        isRunning = true
        for key in clientOrder { reconnectIfPossible(key) }
    }

    /// Holds acknowledgements: QoS 1 publishes stay in flight (not yet processed by the broker)
    /// until `releaseAcknowledgements`, so the in-flight window fills and `publish` waits.
    public func holdAcknowledgements() {
        holdingAcks = true
    }

    /// Processes and acknowledges every publish in flight, in order, and lets waiting ones in.
    public func releaseAcknowledgements() {
        holdingAcks = false
        for key in clientOrder {
            guard var client = clients[key], client.state == .connected else { continue }
            let pending = client.inflight
            client.inflight = []
            clients[key] = client
            for publish in pending {
                route(publish.message)
                publish.continuation.resume(returning: .success(()))
            }
            pump(key)
        }
    }

    // MARK: - Inspection

    /// The retained message on `topic`, if any.
    public func retainedMessage(on topic: String) -> Message? {
        retained[topic]
    }

    /// Topics that have a retained message, sorted.
    public var retainedTopics: [String] { retained.keys.sorted() }

    /// Whether the broker holds a session for `clientID`.
    public func hasSession(_ clientID: String) -> Bool {
        sessions[clientID] != nil
    }

    /// Whether a transport of `clientID` is connected.
    public func isConnected(_ clientID: String) -> Bool {
        sessions[clientID]?.owner != nil
    }

    /// The session's subscription filters, sorted.
    public func subscriptions(of clientID: String) -> [String] {
        sessions[clientID]?.subscriptions.keys.sorted() ?? []
    }

    /// QoS 1 messages the session holds for its client (offline, or lost in transit).
    public func queuedCount(for clientID: String) -> Int {
        sessions[clientID]?.queue.count ?? 0
    }

    /// QoS 1 publishes of `clientID` sent but not acknowledged.
    public func inflightCount(of clientID: String) -> Int {
        keys(of: clientID).reduce(0) { $0 + (clients[$1]?.inflight.count ?? 0) }
    }

    /// QoS 1 publishes of `clientID` waiting for room in the window or for a connection.
    public func waitingCount(of clientID: String) -> Int {
        keys(of: clientID).reduce(0) { $0 + (clients[$1]?.waiting.count ?? 0) }
    }

    func keys(of clientID: String) -> [ObjectIdentifier] {
        clientOrder.filter { clients[$0]?.transport.clientID == clientID }
    }
}
