import CMosquitto
import Core
import Foundation
import Synchronization

/// The C boundary: one libmosquitto handle, the thread that runs its network loop, and the
/// Swift state its callbacks update. `MQTTTransport` is the public face.
///
/// Threading and lifetime rules (why `@unchecked Sendable` is safe here):
/// - libmosquitto runs in threaded mode (`mosquitto_threaded_set`): `mosquitto_publish`,
///   `_subscribe`, `_unsubscribe` and `_disconnect` called from other threads only queue packets
///   under libmosquitto's own mutexes, then wake the loop (`wakeLoop`); they never run callbacks.
/// - Every call that can run a callback (connect, the loop turn `loopOnce`, destroy) is made by the loop
///   thread alone, so callbacks run only there. The thread's closure holds a strong reference
///   to this object for its whole life and destroys the handle before it ends, so the
///   unretained `userdata` pointer a callback receives always refers to a live object.
/// - Other threads enter libmosquitto only between `beginCall` and `endCall`, which count them;
///   once the phase is `.closing` no call begins, and the loop thread destroys the handle only
///   after the count is zero. No C call is made while `state` is locked, so libmosquitto's
///   mutexes and ours never nest in opposite orders.
/// - All mutable Swift state is inside `state` (a `Mutex`), `inbound` and `window`.
final class MosquittoClient: @unchecked Sendable {
    let configuration: MQTTTransport.Configuration
    let handle: OpaquePointer
    let inbound: InboundQueue
    let events: AsyncStream<TransportEvent>
    let eventSink: AsyncStream<TransportEvent>.Continuation
    let window: InFlightWindow
    let state = Mutex(ClientState())
    /// Wakes the loop thread from a backoff sleep when the client closes.
    let wakeup = NSCondition()
    /// CONNECT properties (session expiry, maximum packet size), owned for the client's life.
    nonisolated(unsafe) var connectProperties: OpaquePointer?
    /// Written by other threads after queueing a packet; the loop thread polls it (`loopOnce`).
    let wakeFD: Int32

    /// A client for `configuration`; nothing touches the network until `start()`.
    init(configuration: MQTTTransport.Configuration) throws(TransportError) {
        try configuration.validate()
        Mosquitto.initializeLibrary()
        let wakeFD = try Self.makeWakeFD()
        guard let handle = mosquitto_new(configuration.clientID, configuration.cleanStart, nil) else {
            Glibc.close(wakeFD)
            throw TransportError(.protocolError, "libmosquitto could not create a client: \(String(cString: strerror(errno)))")
        }
        self.wakeFD = wakeFD
        self.handle = handle
        self.configuration = configuration
        inbound = InboundQueue(policy: configuration.inboundBuffer)
        (events, eventSink) = AsyncStream.makeStream(of: TransportEvent.self, bufferingPolicy: .bufferingNewest(256))
        window = InFlightWindow(capacity: configuration.inFlightWindow)
        // On a throw, deinit destroys the handle and frees the properties.
        try applyOptions()
        installCallbacks()
    }

    deinit {
        // Reached only when the loop thread is gone (it holds a reference while it runs).
        if !state.withLock({ $0.destroyed }) { mosquitto_destroy(handle) }
        mosquitto_property_free_all(&connectProperties)
        Glibc.close(wakeFD)
    }

    // MARK: - Options

    private func applyOptions() throws(TransportError) {
        let c = configuration
        func check(_ rc: Int32, _ what: String) throws(TransportError) {
            if let error = MosquittoStatus.error(rc, doing: "setting \(what)") { throw error }
        }
        try check(mosquitto_threaded_set(handle, true), "threaded mode")
        try check(mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5), "MQTT 5")
        try check(mosquitto_int_option(handle, MOSQ_OPT_TCP_NODELAY, c.tcpNoDelay ? 1 : 0), "TCP_NODELAY")
        try check(mosquitto_int_option(handle, MOSQ_OPT_SEND_MAXIMUM, Int32(c.inFlightWindow)), "the send maximum")
        try check(mosquitto_int_option(handle, MOSQ_OPT_RECEIVE_MAXIMUM, Int32(c.receiveMaximum)), "the receive maximum")
        if let username = c.username {
            try check(mosquitto_username_pw_set(handle, username, c.password), "the user name and password")
        }
        if let will = c.will {
            let rc = will.payload.withUnsafeBytes { bytes in
                mosquitto_will_set_v5(handle, will.topic, Int32(bytes.count), bytes.baseAddress, Int32(will.qos.rawValue), will.retain, nil)
            }
            try check(rc, "the last will")
        }
        if let tls = c.tls {
            let rc = mosquitto_tls_set(handle, tls.caFile, nil, tls.certificateFile, tls.keyFile, nil)
            if rc != MOSQ_ERR_SUCCESS.rawValue {
                throw TransportError(.connectionFailed, "TLS files unreadable or invalid (CA '\(tls.caFile)', certificate '\(tls.certificateFile ?? "-")', key '\(tls.keyFile ?? "-")'): \(MosquittoStatus.describe(rc))")
            }
            try check(mosquitto_tls_insecure_set(handle, tls.insecureSkipHostnameCheck), "the TLS host name check")
        }
        try check(mosquitto_property_add_int32(&connectProperties, MQTTReason.sessionExpiryInterval, UInt32(c.sessionExpiry.seconds)), "the session expiry")
        if let maxPacketSize = c.maxPacketSize {
            try check(mosquitto_property_add_int32(&connectProperties, MQTTReason.maximumPacketSize, UInt32(maxPacketSize)), "the maximum packet size")
        }
    }

    // MARK: - Calls from other threads

    /// Counts a C call from a thread other than the loop's; nil (and nothing counted) once the
    /// client is closing. Returns the connection epoch at the start of the call.
    func beginCall() -> (epoch: Int, connected: Bool)? {
        state.withLock { state in
            guard state.phase != .closing && state.phase != .closed else { return nil }
            state.activeCalls += 1
            return (state.epoch, state.connected)
        }
    }

    /// Statistics for `MQTTTransport.statistics`.
    var statistics: MQTTTransport.Statistics {
        let (connections, receiveMaximum) = state.withLock { ($0.connections, $0.brokerReceiveMaximum) }
        return MQTTTransport.Statistics(
            inFlight: window.inUse, peakInFlight: window.peak, waitingForWindow: window.waiting,
            connections: connections, bufferedInbound: inbound.count, peakBufferedInbound: inbound.peakCount,
            inboundStalls: inbound.stallCount, brokerReceiveMaximum: receiveMaximum)
    }
}
