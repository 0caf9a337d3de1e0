import Foundation

/// One configuration value before it is typed: JSON scalars and lists, or text from the
/// environment and flags (typed later by the key's schema entry).
public enum ConfigValue: Sendable, Equatable {
    /// Text (from JSON strings, environment variables and flags).
    case text(String)
    /// A JSON number.
    case number(Double)
    /// A JSON boolean.
    case bool(Bool)
    /// A JSON array of strings.
    case list([String])
}

/// Where a value came from, so an error can say which line to fix.
public enum ConfigOrigin: Sendable, Equatable, CustomStringConvertible {
    /// A default of the schema.
    case defaultValue
    /// The configuration file.
    case file(String)
    /// An environment variable.
    case environment(String)
    /// A command-line flag.
    case flag

    public var description: String {
        switch self {
        case .defaultValue: "the default"
        case .file(let path): "'\(path)'"
        case .environment(let name): "environment variable \(name)"
        case .flag: "the command line"
        }
    }
}

/// Values by dotted key, layered: flags over environment over file over defaults.
public struct ConfigValues: Sendable {
    /// The winning value of each key that has one, and where it came from.
    public private(set) var entries: [String: (value: ConfigValue, origin: ConfigOrigin)] = [:]

    /// No values.
    public init() {}

    /// The value of `key`, if any layer set it.
    public subscript(key: String) -> ConfigValue? { entries[key]?.value }

    /// Where the value of `key` came from.
    public func origin(of key: String) -> ConfigOrigin? { entries[key]?.origin }

    /// Sets `key` from `origin`, over whatever an earlier (lower) layer set.
    public mutating func set(_ key: String, _ value: ConfigValue, from origin: ConfigOrigin) {
        entries[key] = (value, origin)
    }

    // MARK: - Layers

    /// Adds a JSON configuration file: an object whose nested objects become dotted keys
    /// (`{"http": {"port": 8080}}` is `http.port`). Unknown keys are refused by name.
    public mutating func addFile(_ path: String, schema: ConfigSchema) throws(ConfigurationError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(.unreadable, "cannot read the configuration file '\(path)'")
        }
        let root: [String: JSONTree]
        do {
            guard case .object(let object) = try JSONDecoder().decode(JSONTree.self, from: data) else {
                throw ConfigurationError(.malformed, "'\(path)' must hold a JSON object of settings")
            }
            root = object
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError(.malformed, "'\(path)' is not valid JSON")
        }
        try flatten(root, prefix: "", path: path, schema: schema)
    }

    private mutating func flatten(_ object: [String: JSONTree], prefix: String, path: String, schema: ConfigSchema) throws(ConfigurationError) {
        for name in object.keys.sorted() {
            let key = prefix.isEmpty ? name : prefix + "." + name
            let raw = object[name]!
            if case .object(let nested) = raw, schema.entry(key) == nil {
                guard schema.hasSection(key) else { throw schema.unknown(key, in: "'\(path)'") }
                try flatten(nested, prefix: key, path: path, schema: schema)
                continue
            }
            guard schema.entry(key) != nil else { throw schema.unknown(key, in: "'\(path)'") }
            set(key, try Self.value(raw, key: key, path: path), from: .file(path))
        }
    }

    private static func value(_ raw: JSONTree, key: String, path: String) throws(ConfigurationError) -> ConfigValue {
        switch raw {
        case .string(let text): return .text(text)
        case .number(let number): return .number(number)
        case .bool(let flag): return .bool(flag)
        case .array(let items):
            var texts: [String] = []
            for item in items {
                guard case .string(let text) = item else {
                    throw ConfigurationError(.invalidValue, key: key, "\(key) in '\(path)' must be a list of strings")
                }
                texts.append(text)
            }
            return .list(texts)
        case .null, .object:
            throw ConfigurationError(.invalidValue, key: key, "\(key) in '\(path)' has a value of an unsupported type (null or object)")
        }
    }

    /// Adds `STARLING_AGENT_*` variables: `http.port` is `STARLING_AGENT_HTTP_PORT`,
    /// `mqtt.keepaliveSeconds` is `STARLING_AGENT_MQTT_KEEPALIVE_SECONDS`. A variable with the
    /// prefix that names no key is refused (a typo would otherwise be silently ignored).
    public mutating func addEnvironment(_ environment: [String: String], schema: ConfigSchema) throws(ConfigurationError) {
        let byName = Dictionary(uniqueKeysWithValues: schema.entries.map { (schema.environmentName(of: $0.key), $0.key) })
        for name in environment.keys.sorted() where name.hasPrefix(schema.environmentPrefix) {
            guard let key = byName[name] else {
                let program = schema.environmentPrefix == "STARLING_HUB_" ? "starling-hub" : "starling-agent"
                throw ConfigurationError(.unknownKey, "environment variable \(name) names no setting; see `\(program) config-keys`")
            }
            set(key, .text(environment[name]!), from: .environment(name))
        }
    }

    /// Adds `key=value` settings from the command line (`--set http.port=9000`).
    public mutating func addFlags(_ settings: [String], schema: ConfigSchema) throws(ConfigurationError) {
        for setting in settings {
            guard let equals = setting.firstIndex(of: "=") else {
                throw ConfigurationError(.malformed, "--set \(setting): write KEY=VALUE, e.g. --set http.port=9000")
            }
            let key = String(setting[..<equals])
            guard schema.entry(key) != nil else { throw schema.unknown(key, in: "the command line") }
            set(key, .text(String(setting[setting.index(after: equals)...])), from: .flag)
        }
    }
}

/// A parsed JSON document, keeping booleans and numbers apart.
enum JSONTree: Decodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONTree])
    case object([String: JSONTree])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let flag = try? container.decode(Bool.self) {
            self = .bool(flag)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let text = try? container.decode(String.self) {
            self = .string(text)
        } else if let items = try? container.decode([JSONTree].self) {
            self = .array(items)
        } else {
            self = .object(try container.decode([String: JSONTree].self))
        }
    }
}
