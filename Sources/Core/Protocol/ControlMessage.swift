#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A versioned JSON control message (status, telemetry, assignment, ...).
///
/// On the wire every control message is a JSON object with three common fields beside its own:
/// `v` (the schema version, written by `MessageCodec`), `id` (unique per sender; receivers drop
/// ids they have already handled, so QoS 1 redelivery is harmless) and `time` (when the sender
/// created it, in milliseconds since the Unix epoch, UTC).
///
/// Versioning: `v` is the schema's major version. Adding an optional field does not change it;
/// readers ignore fields they do not know. Removing or changing the meaning or type of a field
/// bumps `v`, and a reader refuses a `v` newer than `version` (`unsupportedVersion`).
public protocol ControlMessage: Codable, Sendable, Equatable {
    /// The schema's name, used in errors and the protocol document ("status", "telemetry", ...).
    static var schema: String { get }
    /// The schema version this build writes.
    static var version: Int { get }
    /// The oldest schema version this build still reads.
    static var oldestReadableVersion: Int { get }
    /// The message id: unique per sender, the key for duplicate suppression.
    var id: String { get }
    /// When the sender created the message, in milliseconds since the Unix epoch (UTC).
    var time: Int64 { get }
    /// Checks the constraints of the schema beyond JSON types (ranges, digests, ids).
    func validate() throws(ProtocolError)
}

extension ControlMessage {
    /// Version 1 is the first and, so far, the only version of every schema.
    public static var version: Int { 1 }
    /// Every version ever written is still read.
    public static var oldestReadableVersion: Int { 1 }
}

/// Encodes and decodes control messages: JSON with the schema version `v`, checked strictly.
///
/// Encoding writes compact JSON with sorted keys (the golden fixtures pin the bytes) and refuses
/// a message that breaks its schema. Decoding checks, in order: size, JSON syntax, that it is an
/// object, `v` (present, supported), the fields (present, right types), then the schema's value
/// constraints. Fields it does not know are ignored, so a newer sender may add optional fields
/// without bumping `v`.
public enum MessageCodec {
    /// The largest control message accepted by default, in bytes.
    public static let maxMessageBytes = 1 << 20

    /// The JSON bytes of `message`, with `v` set to the schema's current version.
    public static func encode<M: ControlMessage>(_ message: M) throws(ProtocolError) -> [UInt8] {
        try FieldCheck.common(message)
        try message.validate()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(Versioned(message: message)))
        } catch {
            throw ProtocolError(.invalidValue, "\(M.schema) message cannot be encoded: \(error)")
        }
    }

    /// Decodes a `M` from `payload`; every problem is a `ProtocolError` naming the field at fault.
    public static func decode<M: ControlMessage>(
        _ type: M.Type, from payload: [UInt8], maxBytes: Int = maxMessageBytes
    ) throws(ProtocolError) -> M {
        guard payload.count <= maxBytes else {
            throw ProtocolError(.tooLarge, "\(M.schema) message is \(payload.count) bytes; the limit is \(maxBytes)")
        }
        let message: M
        do {
            message = try JSONDecoder().decode(Versioned<M>.self, from: Data(payload)).message
        } catch let error as ProtocolError {
            throw error
        } catch let error as DecodingError {
            throw translate(error, schema: M.schema)
        } catch {
            throw ProtocolError(.malformed, "\(M.schema) message is not valid JSON: \(error)")
        }
        try FieldCheck.common(message)
        try message.validate()
        return message
    }

    /// The schema version `v` of a JSON control message, without decoding the rest.
    public static func version(of payload: [UInt8], maxBytes: Int = maxMessageBytes) throws(ProtocolError) -> Int {
        guard payload.count <= maxBytes else {
            throw ProtocolError(.tooLarge, "the message is \(payload.count) bytes; the limit is \(maxBytes)")
        }
        do {
            return try JSONDecoder().decode(VersionOnly.self, from: Data(payload)).v
        } catch let error as DecodingError {
            throw translate(error, schema: "control")
        } catch {
            throw ProtocolError(.malformed, "the message is not valid JSON: \(error)")
        }
    }

    // MARK: - Version envelope

    private enum VersionKey: String, CodingKey {
        case v
    }

    private struct VersionOnly: Decodable {
        var v: Int
    }

    /// A message with its `v` beside its own fields in the same JSON object.
    private struct Versioned<M: ControlMessage>: Codable {
        var message: M

        init(message: M) {
            self.message = message
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: VersionKey.self)
            guard let v = try container.decodeIfPresent(Int.self, forKey: .v) else {
                throw ProtocolError(.missingField, "\(M.schema) message has no schema version 'v'")
            }
            guard v >= 1 else {
                throw ProtocolError(.invalidValue, "\(M.schema) message has schema version \(v); versions start at 1")
            }
            guard v <= M.version else {
                throw ProtocolError(
                    .unsupportedVersion,
                    "\(M.schema) message has schema v\(v), newer than this build reads (up to v\(M.version)); upgrade it")
            }
            guard v >= M.oldestReadableVersion else {
                throw ProtocolError(
                    .unsupportedVersion,
                    "\(M.schema) message has schema v\(v), older than this build still reads (v\(M.oldestReadableVersion))")
            }
            message = try M(from: decoder)
        }

        func encode(to encoder: any Encoder) throws {
            try message.encode(to: encoder)
            var container = encoder.container(keyedBy: VersionKey.self)
            try container.encode(M.version, forKey: .v)
        }
    }

    // MARK: - Errors

    /// A `DecodingError` as a `ProtocolError` naming the field (`rows[2].label`).
    static func translate(_ error: DecodingError, schema: String) -> ProtocolError {
        switch error {
        case .keyNotFound(let key, let context):
            let field = path(context.codingPath + [key])
            return ProtocolError(.missingField, "\(schema) message is missing field '\(field)'")
        case .typeMismatch(let type, let context) where context.codingPath.isEmpty:
            return ProtocolError(
                .malformed, "\(schema) message is not a JSON object (found something else where \(type) was expected)")
        case .typeMismatch(let type, let context):
            return ProtocolError(.wrongType, "\(schema) message: field '\(path(context.codingPath))' should be \(describe(type))")
        case .valueNotFound(_, let context) where context.codingPath.isEmpty:
            return ProtocolError(.malformed, "\(schema) message is not a JSON object (found null)")
        case .valueNotFound(let type, let context):
            return ProtocolError(
                .wrongType, "\(schema) message: field '\(path(context.codingPath))' is null, expected \(describe(type))")
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return ProtocolError(.malformed, "\(schema) message is not valid JSON (\(context.debugDescription))")
        case .dataCorrupted(let context):
            return ProtocolError(
                .invalidValue, "\(schema) message: field '\(path(context.codingPath))': \(context.debugDescription)")
        @unknown default:
            return ProtocolError(.malformed, "\(schema) message cannot be decoded: \(error)")
        }
    }

    /// A coding path as `a.b[3].c`.
    static func path(_ codingPath: [any CodingKey]) -> String {
        var out = ""
        for key in codingPath {
            if let index = key.intValue, key.stringValue.hasPrefix("Index") || key.stringValue == String(index) {
                out += "[\(index)]"
            } else {
                out += out.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return out
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int.Type, is Int64.Type, is UInt32.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        default: "\(type)"
        }
    }
}

/// Decoding helpers for validated identifiers, naming the field in the error.
extension ProtocolError {
    /// `error` with the coding path of the field it came from, for nested identifier fields.
    static func at(_ codingPath: [any CodingKey], _ error: ProtocolError) -> ProtocolError {
        guard !codingPath.isEmpty else { return error }
        return ProtocolError(error.code, "field '\(MessageCodec.path(codingPath))': \(error.message)")
    }
}

/// The ids of recently handled messages, for idempotent handlers under QoS 1.
///
/// QoS 1 delivers at least once: after a lost acknowledgement or a reconnect the same message
/// can arrive again. A handler records each id it has applied and drops repeats. The set is
/// bounded (first in, first out), so it remembers the last `capacity` ids; handlers whose effects
/// must be exactly-once beyond that horizon also key their stored rows by message id.
public struct RecentMessageIDs: Sendable {
    /// How many ids are remembered.
    public let capacity: Int
    private var members: Set<String> = []
    private var order: [String?]
    private var next = 0

    /// An empty set remembering up to `capacity` ids.
    public init(capacity: Int = 4096) {
        self.capacity = Swift.max(1, capacity)
        order = [String?](repeating: nil, count: self.capacity)
    }

    /// Records `id`; returns false if it is already remembered (a duplicate to drop).
    @discardableResult
    public mutating func insert(_ id: String) -> Bool {
        guard !members.contains(id) else { return false }
        if let evicted = order[next] { members.remove(evicted) }
        order[next] = id
        members.insert(id)
        next = (next + 1) % capacity
        return true
    }

    /// Whether `id` is remembered.
    public func contains(_ id: String) -> Bool {
        members.contains(id)
    }

    /// The number of ids remembered.
    public var count: Int { members.count }
}
