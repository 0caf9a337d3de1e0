import Core

/// A request waiting for the broker's answer, keyed by its MQTT packet identifier (libmosquitto's
/// `mid`, one counter for publishes, subscribes and unsubscribes).
enum Waiter {
    typealias Continuation = CheckedContinuation<Result<Void, TransportError>, Never>

    /// A publish: QoS 1 waits for PUBACK, QoS 0 for the write to the socket.
    case publish(QoS, Continuation)
    /// A SUBSCRIBE; no continuation for the transport's own re-subscriptions.
    case subscribe(String, QoS, Continuation?)
    /// An UNSUBSCRIBE; no continuation for the transport's own repeats.
    case unsubscribe(String, Continuation?)
}

/// A subscription change the broker may not have seen: re-sent after the next reconnect.
enum SubscriptionChange: Equatable {
    case subscribe(String, QoS)
    case unsubscribe(String)
}

/// Everything the loop thread and callers share, guarded by `MosquittoClient.state`.
struct ClientState {
    enum Phase: Equatable {
        /// Created; `connect()` not called yet.
        case idle
        /// The loop thread runs: connected, connecting, or waiting to reconnect.
        case running
        /// `close()` began: no new C calls; the loop thread is stopping.
        case closing
        /// The loop thread is gone and the handle destroyed.
        case closed
    }

    var phase = Phase.idle
    /// A CONNACK with success arrived and the connection has not ended since.
    var connected = false
    /// Incremented whenever a connection ends: a request begun in an older epoch may have had
    /// its packet discarded with that connection.
    var epoch = 0
    /// Successful connections so far.
    var connections = 0
    /// Consecutive failed connection attempts (for the backoff).
    var failures = 0
    /// The broker's Receive Maximum from the last CONNACK (nil: not sent, i.e. 65,535).
    var brokerReceiveMaximum: Int?
    /// Callers of `connect()` waiting for the outcome of the next attempt.
    var connectWaiters: [Waiter.Continuation] = []
    /// Requests sent and not answered, by packet identifier.
    var waiters: [Int32: Waiter] = [:]
    /// Answers that arrived before their request was registered (the loop thread can be faster
    /// than the thread returning from `mosquitto_publish`), by packet identifier.
    var earlyAnswers: [Int32: Int32] = [:]
    /// Packet identifiers whose requests were settled without an answer; a late answer is ignored.
    var abandoned: Set<Int32> = []
    /// Threads inside a libmosquitto call on this handle (other than the loop thread).
    var activeCalls = 0
    /// The subscriptions the caller wants, re-applied when a reconnect finds no session.
    var filters: [String: QoS] = [:]
    /// Subscription changes to send again after the next reconnect.
    var unconfirmed: [SubscriptionChange] = []
    /// Why the last connection attempt failed.
    var lastError: TransportError?
    /// Why the current connection ended, as `on_disconnect` reported it.
    var lastDisconnectReason: String?
    /// The broker ended the session because another connection took the client id.
    var takenOver = false
    /// A test asked to cut the connection without DISCONNECT.
    var dropRequested = false
    /// `mosquitto_destroy` ran.
    var destroyed = false
    /// Callers of `close()` waiting for the loop thread to finish.
    var stopWaiters: [CheckedContinuation<Void, Never>] = []

    /// Registers the answer to `mid`, or keeps it for the registration that is about to follow.
    /// Returns the settled waiter and its reason code.
    mutating func answer(_ mid: Int32, reason: Int32) -> (Waiter, Int32)? {
        if let waiter = waiters.removeValue(forKey: mid) { return (waiter, reason) }
        if abandoned.remove(mid) == nil { earlyAnswers[mid] = reason }
        return nil
    }

    /// After a successful C call returned `mid`: the early answer if one came, or nil after
    /// registering `waiter`.
    mutating func register(_ mid: Int32, _ waiter: Waiter) -> Int32? {
        abandoned.remove(mid)
        if let reason = earlyAnswers.removeValue(forKey: mid) { return reason }
        waiters[mid] = waiter
        return nil
    }

    /// Settles `mid` without waiting: a late answer will be ignored. Returns an answer that
    /// already came, if any.
    mutating func abandon(_ mid: Int32) -> Int32? {
        if let reason = earlyAnswers.removeValue(forKey: mid) { return reason }
        abandoned.insert(mid)
        return nil
    }

    /// Ends the current connection: QoS 0 publishes and subscription changes in flight are
    /// settled (the packets were discarded with the socket; QoS 1 publishes stay, libmosquitto
    /// sends them again). Returns the continuations to resume.
    mutating func connectionEnded() -> [(Waiter.Continuation, Result<Void, TransportError>)] {
        connected = false
        epoch += 1
        var settled: [(Waiter.Continuation, Result<Void, TransportError>)] = []
        for (mid, waiter) in waiters {
            switch waiter {
            case .publish(.atLeastOnce, _):
                continue
            case .publish(_, let continuation):
                settled.append((continuation, .success(())))
            case .subscribe(let filter, let qos, let continuation):
                unconfirmed.append(.subscribe(filter, qos))
                if let continuation { settled.append((continuation, .success(()))) }
            case .unsubscribe(let filter, let continuation):
                unconfirmed.append(.unsubscribe(filter))
                if let continuation { settled.append((continuation, .success(()))) }
            }
            waiters[mid] = nil
        }
        return settled
    }

    /// Every waiting continuation, for `close()`; the caller fails them with `.closed`.
    mutating func takeAllContinuations() -> [Waiter.Continuation] {
        var all = connectWaiters
        connectWaiters = []
        for waiter in waiters.values {
            switch waiter {
            case .publish(_, let continuation): all.append(continuation)
            case .subscribe(_, _, let continuation), .unsubscribe(_, let continuation):
                if let continuation { all.append(continuation) }
            }
        }
        waiters = [:]
        return all
    }
}
