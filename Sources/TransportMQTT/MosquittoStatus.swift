import CMosquitto
import Core

#if canImport(Glibc)
import Glibc
#endif

/// MQTT 5 reason codes and property identifiers the transport uses (`mqtt_protocol.h`, which
/// `mosquitto.h` does not include).
enum MQTTReason {
    static let success: Int32 = 0x00
    static let noMatchingSubscribers: Int32 = 0x10
    static let badUsernameOrPassword: Int32 = 0x86
    static let notAuthorized: Int32 = 0x87
    static let serverUnavailable: Int32 = 0x88
    static let serverBusy: Int32 = 0x89
    static let banned: Int32 = 0x8A
    static let badAuthenticationMethod: Int32 = 0x8C
    static let sessionTakenOver: Int32 = 0x8E
    static let topicFilterInvalid: Int32 = 0x8F
    static let topicNameInvalid: Int32 = 0x90
    static let packetTooLarge: Int32 = 0x95
    static let quotaExceeded: Int32 = 0x97

    /// Property identifiers.
    static let sessionExpiryInterval: Int32 = 17
    static let receiveMaximum: Int32 = 33
    static let maximumPacketSize: Int32 = 39
}

/// Translation of libmosquitto return codes and MQTT 5 reason codes into `TransportError`.
enum MosquittoStatus {
    /// The error for a libmosquitto return code (`MOSQ_ERR_*`), or nil for success.
    static func error(_ rc: Int32, doing action: String) -> TransportError? {
        guard rc != MOSQ_ERR_SUCCESS.rawValue else { return nil }
        let text = describe(rc)
        let code: TransportError.Code
        switch mosq_err_t(rawValue: rc) {
        case MOSQ_ERR_NO_CONN, MOSQ_ERR_CONN_LOST, MOSQ_ERR_CONN_REFUSED, MOSQ_ERR_ERRNO, MOSQ_ERR_EAI,
            MOSQ_ERR_LOOKUP, MOSQ_ERR_TLS, MOSQ_ERR_TLS_HANDSHAKE, MOSQ_ERR_KEEPALIVE, MOSQ_ERR_TIMEOUT,
            MOSQ_ERR_PROXY, MOSQ_ERR_OCSP:
            code = .connectionFailed
        case MOSQ_ERR_AUTH, MOSQ_ERR_ACL_DENIED:
            code = .notAuthorized
        case MOSQ_ERR_PAYLOAD_SIZE, MOSQ_ERR_OVERSIZE_PACKET:
            code = .tooLarge
        case MOSQ_ERR_MALFORMED_UTF8:
            code = .invalidTopic
        case MOSQ_ERR_QOS_NOT_SUPPORTED, MOSQ_ERR_RETAIN_NOT_SUPPORTED:
            code = .refused
        default:
            code = .protocolError
        }
        return TransportError(code, "\(action): \(text)")
    }

    /// The error for an MQTT 5 reason code in a CONNACK, PUBACK or SUBACK, or nil below 0x80.
    static func error(reason: Int32, doing action: String) -> TransportError? {
        guard reason >= 0x80 else { return nil }
        let text = String(cString: mosquitto_reason_string(reason))
        let code: TransportError.Code
        switch reason {
        case MQTTReason.badUsernameOrPassword, MQTTReason.notAuthorized, MQTTReason.banned,
            MQTTReason.badAuthenticationMethod:
            code = .notAuthorized
        case MQTTReason.topicFilterInvalid, MQTTReason.topicNameInvalid:
            code = .invalidTopic
        case MQTTReason.packetTooLarge:
            code = .tooLarge
        case MQTTReason.serverUnavailable, MQTTReason.serverBusy, 0x9C, 0x9D, 0x9F:
            code = .connectionFailed
        default:
            code = .refused
        }
        return TransportError(code, "\(action): the broker answered \(text) (reason 0x\(String(reason, radix: 16)))")
    }

    /// Why a connection ended, from the code `on_disconnect` reports: a libmosquitto error below
    /// 0x80 (network failures), an MQTT 5 reason code from the broker's DISCONNECT above.
    static func disconnectReason(_ rc: Int32) -> String {
        if rc == 0 { return "disconnected" }
        if rc >= 0x80 { return "the broker disconnected: \(String(cString: mosquitto_reason_string(rc)))" }
        return describe(rc)
    }

    /// libmosquitto's text for `rc`; for `MOSQ_ERR_ERRNO`, the system error.
    static func describe(_ rc: Int32) -> String {
        if rc == MOSQ_ERR_ERRNO.rawValue {
            return String(cString: strerror(errno))
        }
        return String(cString: mosquitto_strerror(rc))
    }
}
