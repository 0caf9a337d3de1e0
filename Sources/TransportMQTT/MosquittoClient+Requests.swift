import CMosquitto
import Core

/// Publish, subscribe and unsubscribe from any thread: the C call, then the registration of the
/// waiter for the broker's answer (see `ClientState.register` for the answer that comes first).
extension MosquittoClient {
    private var closedError: TransportError { TransportError(.closed, "the transport is closed") }

    /// Publishes `message`; returns after PUBACK (QoS 1) or the socket write (QoS 0).
    func publish(_ message: Message) async throws(TransportError) {
        do {
            try TopicFilter.validateTopicName(message.topic)
        } catch {
            throw error.transportError
        }
        let limit = configuration.maxPacketSize ?? 268_435_460
        // Fixed header, topic, packet id and an empty property length.
        let packetSize = message.payload.count + message.topic.utf8.count + 10
        guard packetSize <= limit else {
            throw TransportError(.tooLarge, "the message to '\(message.topic)' needs a \(packetSize)-byte packet; the limit is \(limit)")
        }
        let (phase, connected) = state.withLock { ($0.phase, $0.connected) }
        switch phase {
        case .idle: throw TransportError(.connectionFailed, "not connected; call connect() first")
        case .closing, .closed: throw closedError
        case .running: break
        }
        // QoS 0 while the connection is down is dropped, as at-most-once allows.
        if message.qos == .atMostOnce && !connected { return }
        guard await window.acquire() else { throw closedError }
        defer { window.release() }
        let result: Result<Void, TransportError> = await withCheckedContinuation { continuation in
            guard let call = beginCall() else {
                continuation.resume(returning: .failure(closedError))
                return
            }
            var mid: Int32 = 0
            let rc = message.payload.withUnsafeBytes { bytes in
                mosquitto_publish_v5(
                    handle, &mid, message.topic, Int32(bytes.count), bytes.baseAddress, Int32(message.qos.rawValue),
                    message.retain, nil)
            }
            wakeLoop()
            let qos1 = message.qos == .atLeastOnce
            let outcome: Result<Void, TransportError>? = state.withLock { state in
                state.activeCalls -= 1
                // A QoS 1 message is queued in libmosquitto even without a connection, and sent
                // after the reconnect.
                let queued = rc == MOSQ_ERR_SUCCESS.rawValue || (qos1 && rc == MOSQ_ERR_NO_CONN.rawValue)
                guard queued else {
                    if rc == MOSQ_ERR_NO_CONN.rawValue { return .success(()) }
                    return .failure(MosquittoStatus.error(rc, doing: "publishing to '\(message.topic)'")!)
                }
                if state.phase != .running {
                    _ = state.abandon(mid)
                    return .failure(closedError)
                }
                if !qos1 && state.epoch != call.epoch {
                    _ = state.abandon(mid)
                    return .success(())
                }
                if let reason = state.register(mid, .publish(message.qos, continuation)) {
                    return MosquittoStatus.error(reason: reason, doing: "publishing to '\(message.topic)'").map { .failure($0) }
                        ?? .success(())
                }
                return nil
            }
            if let outcome { continuation.resume(returning: outcome) }
        }
        try result.get()
    }

    /// Subscribes to `filter`; before the first connection and while reconnecting the filter is
    /// recorded and applied when the session is up.
    func subscribe(_ filter: String, qos: QoS) async throws(TransportError) {
        do {
            try TopicFilter.validate(filter)
        } catch {
            throw error.transportError
        }
        try await change(.subscribe(filter, qos))
    }

    /// Removes the subscription to `filter`.
    func unsubscribe(_ filter: String) async throws(TransportError) {
        do {
            try TopicFilter.validate(filter)
        } catch {
            throw error.transportError
        }
        try await change(.unsubscribe(filter))
    }

    private func change(_ change: SubscriptionChange) async throws(TransportError) {
        enum Step { case done(Result<Void, TransportError>), call(epoch: Int) }
        let result: Result<Void, TransportError> = await withCheckedContinuation { continuation in
            let step: Step = state.withLock { state in
                guard state.phase == .idle || state.phase == .running else { return .done(.failure(closedError)) }
                switch change {
                case .subscribe(let filter, let qos): state.filters[filter] = qos
                case .unsubscribe(let filter): state.filters[filter] = nil
                }
                guard state.phase == .running && state.connected else {
                    state.unconfirmed.append(change)
                    return .done(.success(()))
                }
                state.activeCalls += 1
                return .call(epoch: state.epoch)
            }
            guard case .call(let epoch) = step else {
                if case .done(let result) = step { continuation.resume(returning: result) }
                return
            }
            let (rc, mid, waiter) = send(change, resuming: continuation)
            let outcome: Result<Void, TransportError>? = state.withLock { state in
                state.activeCalls -= 1
                if rc == MOSQ_ERR_NO_CONN.rawValue {
                    state.unconfirmed.append(change)
                    return .success(())
                }
                if let error = MosquittoStatus.error(rc, doing: "changing the subscription") { return .failure(error) }
                if state.phase != .running {
                    _ = state.abandon(mid)
                    return .failure(closedError)
                }
                if state.epoch != epoch {
                    // The packet may have gone with the old connection: settle now, send again.
                    if let reason = state.abandon(mid) { return state.settle(waiter, reason: reason)?.1 ?? .success(()) }
                    state.unconfirmed.append(change)
                    return .success(())
                }
                if let reason = state.register(mid, waiter) { return state.settle(waiter, reason: reason)?.1 ?? .success(()) }
                return nil
            }
            if let outcome { continuation.resume(returning: outcome) }
        }
        try result.get()
    }

    /// Cuts the TCP connection without DISCONNECT within one loop turn, as a network failure
    /// would: the broker publishes the last will, the client reconnects. For tests.
    func simulateConnectionLoss() {
        state.withLock { $0.dropRequested = true }
    }

    /// Hands a SUBSCRIBE or UNSUBSCRIBE for `change` to libmosquitto; the returned waiter resumes
    /// `continuation` (nil for the transport's own re-subscriptions) when the broker answers.
    func send(_ change: SubscriptionChange, resuming continuation: Waiter.Continuation?) -> (rc: Int32, mid: Int32, waiter: Waiter) {
        var mid: Int32 = 0
        switch change {
        case .subscribe(let filter, let qos):
            let rc = mosquitto_subscribe_v5(handle, &mid, filter, Int32(qos.rawValue), 0, nil)
            wakeLoop()
            return (rc, mid, .subscribe(filter, qos, continuation))
        case .unsubscribe(let filter):
            let rc = mosquitto_unsubscribe_v5(handle, &mid, filter, nil)
            wakeLoop()
            return (rc, mid, .unsubscribe(filter, continuation))
        }
    }
}
