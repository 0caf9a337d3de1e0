/// The rules every id that appears in a topic (device, group, model) or as a message id follows.
///
/// An identifier is 1 to 128 ASCII characters from `A-Z a-z 0-9 . _ - :`, and is neither `.` nor
/// `..`. That keeps it a single MQTT topic level (no `/`), never a wildcard (`+`, `#`), never a
/// `$` system topic, free of NUL and control characters, identical in every encoding, and safe as
/// a file name, a log value and a broker ACL substitution (`%u`, `%c`).
public enum IdentifierRules {
    /// The longest identifier, in characters.
    public static let maxLength = 128

    /// Checks `raw` against the rules; `kind` names it in the error ("device id", "group id", ...).
    public static func check(_ raw: String, kind: String) throws(ProtocolError) {
        let bytes = Array(raw.utf8)
        guard !bytes.isEmpty else { throw ProtocolError(.invalidIdentifier, "the \(kind) is empty") }
        guard bytes.count <= maxLength else {
            throw ProtocolError(.invalidIdentifier, "the \(kind) is \(bytes.count) bytes long; the limit is \(maxLength)")
        }
        for byte in bytes where !isAllowed(byte) {
            throw ProtocolError(.invalidIdentifier, "the \(kind) '\(printable(raw))' \(why(byte))")
        }
        guard raw != ".", raw != ".." else {
            throw ProtocolError(.invalidIdentifier, "the \(kind) '\(raw)' is reserved (it would name a directory)")
        }
    }

    /// Whether `raw` follows the rules.
    public static func isValid(_ raw: String) -> Bool {
        (try? check(raw, kind: "id")) != nil
    }

    static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: ":"):
            true
        default:
            false
        }
    }

    private static func why(_ byte: UInt8) -> String {
        switch byte {
        case UInt8(ascii: "/"): "contains '/', which separates MQTT topic levels"
        case UInt8(ascii: "+"), UInt8(ascii: "#"): "contains '\(Character(Unicode.Scalar(byte)))', an MQTT wildcard"
        case 0: "contains a NUL character"
        case UInt8(ascii: "$"): "contains '$', which marks broker system topics"
        case ..<0x20, 0x7F: "contains a control character"
        case 0x80...: "contains a non-ASCII character; use A-Z a-z 0-9 . _ - :"
        default: "contains '\(Character(Unicode.Scalar(byte)))'; use A-Z a-z 0-9 . _ - :"
        }
    }

    /// The id with control characters escaped, so an error message cannot forge log lines.
    static func printable(_ raw: String) -> String {
        var out = ""
        for scalar in raw.unicodeScalars.prefix(maxLength) {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

/// An identifier that appears as one topic level, validated by `IdentifierRules` on creation
/// and when decoded from JSON.
public protocol TopicIdentifier: RawRepresentable<String>, Hashable, Sendable, Codable, CustomStringConvertible {
    /// What the identifier names, for errors ("device id").
    static var kind: String { get }
    /// Wraps a value that already passed `IdentifierRules`.
    init(unchecked rawValue: String)
}

extension TopicIdentifier {
    /// The identifier; throws `invalidIdentifier` if `rawValue` breaks the rules.
    public init(_ rawValue: String) throws(ProtocolError) {
        try IdentifierRules.check(rawValue, kind: Self.kind)
        self.init(unchecked: rawValue)
    }

    /// The identifier, or nil if `rawValue` breaks the rules.
    public init?(rawValue: String) {
        guard IdentifierRules.isValid(rawValue) else { return nil }
        self.init(unchecked: rawValue)
    }

    /// Decodes and validates a JSON string.
    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(raw)
        } catch {
            throw ProtocolError.at(decoder.codingPath, error)
        }
    }

    /// Encodes as a JSON string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// The raw identifier.
    public var description: String { rawValue }
}

/// A device's id, valid as one topic level (see `IdentifierRules`).
public struct DeviceID: TopicIdentifier {
    /// "device id".
    public static let kind = "device id"
    /// The id.
    public let rawValue: String

    /// Wraps a value that already passed `IdentifierRules`.
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

/// A device group's id, valid as one topic level (see `IdentifierRules`).
public struct GroupID: TopicIdentifier {
    /// "group id".
    public static let kind = "group id"
    /// The id.
    public let rawValue: String

    /// Wraps a value that already passed `IdentifierRules`.
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

/// A model's name as it appears in topics, valid as one topic level (see `IdentifierRules`).
public struct ModelName: TopicIdentifier {
    /// "model name".
    public static let kind = "model name"
    /// The name.
    public let rawValue: String

    /// Wraps a value that already passed `IdentifierRules`.
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}
