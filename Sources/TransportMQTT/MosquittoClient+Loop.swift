import CMosquitto
import Core
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The connection life cycle: `connect()`, the loop thread (connect, run, back off, reconnect)
/// and shutdown.
extension MosquittoClient {
    /// Waits for the outcome of the next connection attempt, starting the loop thread on the
    /// first call. After a failed attempt the thread keeps retrying in the background.
    func connect() async throws(TransportError) {
        enum Action { case start, wait, done(Result<Void, TransportError>) }
        let result: Result<Void, TransportError> = await withCheckedContinuation { continuation in
            let action: Action = state.withLock { state in
                switch state.phase {
                case .closing, .closed:
                    return .done(.failure(TransportError(.closed, "the transport is closed")))
                case .running where state.connected:
                    return .done(.success(()))
                case .idle:
                    state.phase = .running
                    state.connectWaiters.append(continuation)
                    return .start
                case .running:
                    state.connectWaiters.append(continuation)
                    return .wait
                }
            }
            switch action {
            case .start: startThread()
            case .wait: break
            case .done(let result): continuation.resume(returning: result)
            }
        }
        try result.get()
    }

    /// Closes for good and waits until the loop thread has destroyed the handle.
    func close() async {
        let started = beginClose(reason: "the transport was closed")
        guard started else {
            finishWithoutThread()
            return
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state in
                if state.phase == .closed { return true }
                state.stopWaiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Starts closing without waiting (the transport was released without `close()`).
    func requestStop() {
        if !beginClose(reason: "the transport was released") { finishWithoutThread() }
    }

    /// Marks the client closing, fails every waiter, and wakes the loop thread. Returns whether
    /// the loop thread was started (it then finishes the shutdown).
    private func beginClose(reason: String) -> Bool {
        let (wasPhase, continuations) = state.withLock { state -> (ClientState.Phase, [Waiter.Continuation]) in
            let phase = state.phase
            guard phase == .idle || phase == .running else { return (phase, []) }
            state.phase = .closing
            // Counted as a call so the handle outlives the disconnect below.
            if phase == .running { state.activeCalls += 1 }
            return (phase, state.takeAllContinuations())
        }
        let closed = TransportError(.closed, reason)
        for continuation in continuations { continuation.resume(returning: .failure(closed)) }
        window.close()
        // A paused network thread must be released before it can disconnect.
        inbound.finish()
        switch wasPhase {
        case .idle:
            return false
        case .running:
            // Wakes the loop thread from select(); it then sends DISCONNECT (no last will).
            _ = mosquitto_disconnect_v5(handle, Int32(MQTTReason.success), nil)
            wakeLoop()
            state.withLock { $0.activeCalls -= 1 }
            wakeup.lock()
            wakeup.broadcast()
            wakeup.unlock()
            return true
        case .closing, .closed:
            return true
        }
    }

    private func finishWithoutThread() {
        let first = state.withLock { state in
            defer { state.phase = .closed }
            return state.phase != .closed
        }
        if first { eventSink.finish() }
    }

    // MARK: - The loop thread

    private func startThread() {
        mosquitto_user_data_set(handle, Unmanaged.passUnretained(self).toOpaque())
        // The closure's strong reference keeps `self` alive until `run()` has destroyed the handle.
        let thread = Thread { [self] in run() }
        thread.name = "mqtt \(configuration.clientID)"
        thread.start()
    }

    private var isStopping: Bool { state.withLock { $0.phase == .closing } }

    private func run() {
        var firstAttempt = true
        while !isStopping {
            let rc: Int32
            if firstAttempt {
                // The first connect stores host, port and CONNECT properties for the reconnects.
                rc = mosquitto_connect_bind_v5(
                    handle, configuration.host, Int32(configuration.port), Int32(configuration.keepAlive.seconds), nil,
                    connectProperties)
                firstAttempt = false
            } else {
                rc = mosquitto_reconnect_async(handle)
            }
            if rc > 0 {
                connectionEnded(rc)
            } else {
                var loopRC = MOSQ_ERR_SUCCESS.rawValue
                while loopRC == MOSQ_ERR_SUCCESS.rawValue {
                    if isStopping {
                        disconnectGracefully()
                        break
                    }
                    if state.withLock({ state in defer { state.dropRequested = false }; return state.dropRequested }) {
                        let socket = mosquitto_socket(handle)
                        if socket >= 0 { _ = shutdown(socket, Int32(SHUT_RDWR)) }
                    }
                    loopRC = loopOnce(timeout: 250)
                }
                if isStopping { break }
                connectionEnded(loopRC)
            }
            let failures = state.withLock { $0.failures }
            sleep(configuration.reconnect.delay(afterFailures: max(1, failures)))
        }
        finish()
    }

    /// Sends DISCONNECT (reason 0: the broker discards the last will) and lets the loop write it.
    private func disconnectGracefully() {
        _ = mosquitto_disconnect_v5(handle, Int32(MQTTReason.success), nil)
        wakeLoop()
        let deadline = ContinuousClock.now + .seconds(1)
        while loopOnce(timeout: 50) == MOSQ_ERR_SUCCESS.rawValue && ContinuousClock.now < deadline {}
    }

    /// After a connection or an attempt ended with `rc`: settles what the socket took with it,
    /// reports the end, and fails `connect()` callers if the attempt never got a session.
    private func connectionEnded(_ rc: Int32) {
        let target = "\(configuration.host):\(configuration.port)"
        let (wasConnected, settled, connectWaiters, error, reason) = state.withLock { state in
            let wasConnected = state.connected
            let settled = state.connectionEnded()
            var waiters: [Waiter.Continuation] = []
            var error: TransportError?
            if wasConnected {
                state.failures = 1
            } else {
                state.failures += 1
                error = state.lastError ?? MosquittoStatus.error(rc, doing: "connecting to \(target)")
                    ?? TransportError(.connectionFailed, "connecting to \(target): the connection closed")
                waiters = state.connectWaiters
                state.connectWaiters = []
            }
            state.lastError = nil
            let reason = state.lastDisconnectReason ?? MosquittoStatus.describe(rc)
            state.lastDisconnectReason = nil
            return (wasConnected, settled, waiters, error, reason)
        }
        for (continuation, result) in settled { continuation.resume(returning: result) }
        if let error {
            for waiter in connectWaiters { waiter.resume(returning: .failure(error)) }
        }
        if wasConnected { eventSink.yield(.disconnected(reason: reason)) }
        if state.withLock({ $0.takenOver }) {
            _ = beginClose(reason: "the session was taken over by another connection with client id '\(configuration.clientID)'")
        }
    }

    /// Sleeps for a backoff delay; `close()` cuts it short.
    private func sleep(_ delay: Duration) {
        let seconds = Double(delay.components.seconds) + Double(delay.components.attoseconds) * 1e-18
        let deadline = Date(timeIntervalSinceNow: seconds)
        wakeup.lock()
        defer { wakeup.unlock() }
        while !isStopping && wakeup.wait(until: deadline) {}
    }

    /// Destroys the handle once no other thread is inside libmosquitto, then ends the streams.
    private func finish() {
        while state.withLock({ $0.activeCalls }) > 0 { usleep(100) }
        mosquitto_destroy(handle)
        let (continuations, stopWaiters) = state.withLock { state in
            state.destroyed = true
            state.phase = .closed
            state.connected = false
            let stopWaiters = state.stopWaiters
            state.stopWaiters = []
            return (state.takeAllContinuations(), stopWaiters)
        }
        let closed = TransportError(.closed, "the transport was closed")
        for continuation in continuations { continuation.resume(returning: .failure(closed)) }
        window.close()
        inbound.finish()
        eventSink.finish()
        for waiter in stopWaiters { waiter.resume() }
    }
}
