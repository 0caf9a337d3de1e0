/// A program's settings: every key, its type, default and meaning. Parsing, the environment
/// names, the `config-keys` commands and the docs all come from one table (the agent's is
/// `ConfigSchema.agent`, the hub's `ConfigSchema.hub`).
public struct ConfigSchema: Sendable {
    /// What values a key takes.
    public enum Kind: Sendable, Equatable {
        /// Any non-empty text.
        case text
        /// A file system path (non-empty, no NUL).
        case path
        /// A protocol identifier (`IdentifierRules`).
        case identifier
        /// A list of protocol identifiers (comma-separated in the environment and flags).
        case identifiers
        /// An integer in a closed range.
        case integer(ClosedRange<Int>)
        /// A number in a closed range.
        case number(ClosedRange<Double>)
        /// `true` or `false`.
        case boolean
        /// One of a fixed set of words.
        case choice([String])
    }

    /// One key.
    public struct Entry: Sendable {
        /// The dotted key, as in the file (`http.port`).
        public var key: String
        /// The values it takes.
        public var kind: Kind
        /// The default as text, or nil when the key has none (required or optional).
        public var defaultValue: String?
        /// True when start-up fails without a value.
        public var required: Bool
        /// One line for `config-keys` and the docs.
        public var help: String

        /// An entry; a key is optional unless `required` or given a default.
        public init(key: String, kind: Kind, defaultValue: String? = nil, required: Bool = false, help: String) {
            self.key = key
            self.kind = kind
            self.defaultValue = defaultValue
            self.required = required
            self.help = help
        }
    }

    /// Every key, in documentation order.
    public let entries: [Entry]
    /// The prefix of the environment variables (`STARLING_AGENT_`).
    public let environmentPrefix: String
    private let index: [String: Int]

    /// A schema of `entries`, read from environment variables named `environmentPrefix` + key.
    public init(_ entries: [Entry], environmentPrefix: String = "STARLING_AGENT_") {
        self.entries = entries
        self.environmentPrefix = environmentPrefix
        index = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.key, $0) })
    }

    /// The entry of `key`.
    public func entry(_ key: String) -> Entry? { index[key].map { entries[$0] } }

    /// True when some key lies under `section` (`mqtt.tls` for `mqtt.tls.caFile`).
    public func hasSection(_ section: String) -> Bool { entries.contains { $0.key.hasPrefix(section + ".") } }

    /// The error for an unknown key, with the closest known key as a suggestion.
    func unknown(_ key: String, in place: String) -> ConfigurationError {
        let nearest = entries.map(\.key).min { Self.distance($0, key) < Self.distance($1, key) }
        var message = "unknown setting '\(key)' in \(place)"
        if let nearest, Self.distance(nearest, key) <= max(2, key.count / 4) { message += "; did you mean '\(nearest)'?" }
        return ConfigurationError(.unknownKey, key: key, message)
    }

    /// `mqtt.keepaliveSeconds` → `STARLING_AGENT_MQTT_KEEPALIVE_SECONDS`.
    public func environmentName(of key: String) -> String {
        var name = environmentPrefix
        for character in key {
            if character == "." {
                name += "_"
            } else if character.isUppercase {
                name += "_" + String(character)
            } else {
                name += character.uppercased()
            }
        }
        return name
    }

    /// Levenshtein distance, for suggestions.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.lowercased()), b = Array(b.lowercased())
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}
