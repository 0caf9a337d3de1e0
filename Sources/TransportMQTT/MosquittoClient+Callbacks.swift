import CMosquitto
import Core

/// libmosquitto's callbacks. They run only on the loop thread (see `MosquittoClient`), find
/// their client through `userdata`, and never call back into libmosquitto while `state` is locked.
extension MosquittoClient {
    func installCallbacks() {
        mosquitto_connect_v5_callback_set(handle) { _, userdata, reason, flags, properties in
            MosquittoClient.from(userdata)?.didConnect(reason: reason, flags: flags, properties: properties)
        }
        mosquitto_disconnect_v5_callback_set(handle) { _, userdata, rc, _ in
            MosquittoClient.from(userdata)?.didDisconnect(rc)
        }
        mosquitto_publish_v5_callback_set(handle) { _, userdata, mid, reason, _ in
            MosquittoClient.from(userdata)?.didAnswer(mid, reason: reason)
        }
        mosquitto_subscribe_v5_callback_set(handle) { _, userdata, mid, count, granted, _ in
            let reason = count > 0 ? granted?.pointee ?? MQTTReason.success : MQTTReason.success
            MosquittoClient.from(userdata)?.didAnswer(mid, reason: reason)
        }
        mosquitto_unsubscribe_v5_callback_set(handle) { _, userdata, mid, _ in
            MosquittoClient.from(userdata)?.didAnswer(mid, reason: MQTTReason.success)
        }
        mosquitto_message_v5_callback_set(handle) { _, userdata, message, _ in
            guard let message else { return }
            MosquittoClient.from(userdata)?.didReceive(message.pointee)
        }
    }

    private static func from(_ userdata: UnsafeMutableRawPointer?) -> MosquittoClient? {
        guard let userdata else { return nil }
        return Unmanaged<MosquittoClient>.fromOpaque(userdata).takeUnretainedValue()
    }

    // MARK: - Handlers

    private func didConnect(reason: Int32, flags: Int32, properties: OpaquePointer?) {
        guard reason == MQTTReason.success else {
            let target = "\(configuration.host):\(configuration.port)"
            let error = MosquittoStatus.error(reason: reason, doing: "connecting to \(target)")
                ?? TransportError(.connectionFailed, "connecting to \(target): refused (\(reason))")
            state.withLock { $0.lastError = error }
            return
        }
        var receiveMaximum: UInt16 = 0
        let advertised = mosquitto_property_read_int16(properties, MQTTReason.receiveMaximum, &receiveMaximum, false) != nil
        let sessionPresent = flags & 1 != 0
        let (waiters, changes) = state.withLock { state in
            state.connected = true
            state.failures = 0
            state.connections += 1
            state.lastError = nil
            state.brokerReceiveMaximum = advertised ? Int(receiveMaximum) : nil
            let waiters = state.connectWaiters
            state.connectWaiters = []
            let changes: [SubscriptionChange]
            if sessionPresent {
                // Mosquitto (2.0.11) restores a persisted `$share/...` subscription after a restart
                // and says the session is present, but delivers nothing to it until it is made
                // again; re-subscribing is harmless (no duplicate deliveries), so shared ones are.
                let shared = state.filters.filter { $0.key.hasPrefix("$share/") }.sorted { $0.key < $1.key }
                    .map { SubscriptionChange.subscribe($0.key, $0.value) }
                changes = state.unconfirmed + shared.filter { change in !state.unconfirmed.contains { $0 == change } }
            } else {
                // A fresh session has no subscriptions: apply every wanted one.
                changes = state.filters.sorted { $0.key < $1.key }.map { .subscribe($0.key, $0.value) }
            }
            state.unconfirmed = []
            return (waiters, changes)
        }
        for change in changes { resend(change) }
        eventSink.yield(.connected(sessionPresent: sessionPresent))
        for waiter in waiters { waiter.resume(returning: .success(())) }
    }

    /// Sends a subscription change again, on the loop thread (inside a callback libmosquitto
    /// only queues the packet).
    private func resend(_ change: SubscriptionChange) {
        let (rc, mid, waiter) = send(change, resuming: nil)
        state.withLock { state in
            if rc == MOSQ_ERR_SUCCESS.rawValue {
                _ = state.register(mid, waiter)
            } else {
                state.unconfirmed.append(change)
            }
        }
    }

    private func didDisconnect(_ rc: Int32) {
        state.withLock { state in
            state.lastDisconnectReason = MosquittoStatus.disconnectReason(rc)
            if rc == MQTTReason.sessionTakenOver { state.takenOver = true }
        }
    }

    /// A PUBACK (or the socket write of a QoS 0 publish), SUBACK or UNSUBACK.
    private func didAnswer(_ mid: Int32, reason: Int32) {
        let settled: (Waiter.Continuation, Result<Void, TransportError>)? = state.withLock { state in
            guard let (waiter, reason) = state.answer(mid, reason: reason) else { return nil }
            return state.settle(waiter, reason: reason)
        }
        if let (continuation, result) = settled { continuation.resume(returning: result) }
    }

    private func didReceive(_ message: mosquitto_message) {
        let topic = String(cString: message.topic)
        let count = Int(max(0, message.payloadlen))
        let payload: [UInt8] =
            count == 0 || message.payload == nil
            ? [] : Array(UnsafeRawBufferPointer(start: message.payload, count: count))
        let qos: QoS = message.qos == 0 ? .atMostOnce : .atLeastOnce
        inbound.push(Message(topic: topic, payload: payload, qos: qos, retain: message.retain))
    }
}

extension ClientState {
    /// The outcome of `waiter` answered with `reason`, and the subscription bookkeeping it implies.
    mutating func settle(_ waiter: Waiter, reason: Int32) -> (Waiter.Continuation, Result<Void, TransportError>)? {
        switch waiter {
        case .publish(_, let continuation):
            let error = MosquittoStatus.error(reason: reason, doing: "publishing")
            return (continuation, error.map { .failure($0) } ?? .success(()))
        case .subscribe(let filter, let qos, let continuation):
            let error = MosquittoStatus.error(reason: reason, doing: "subscribing to '\(filter)'")
            if error != nil, filters[filter] == qos { filters[filter] = nil }
            guard let continuation else { return nil }
            return (continuation, error.map { .failure($0) } ?? .success(()))
        case .unsubscribe(_, let continuation):
            guard let continuation else { return nil }
            return (continuation, .success(()))
        }
    }
}
