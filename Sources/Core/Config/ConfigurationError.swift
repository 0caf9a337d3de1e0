/// Everything wrong with a program's configuration (or the agent's firmware profile), found at start-up.
///
/// The message names the key (`http.port`) or the environment variable or flag that set it, so
/// an operator can fix the right line.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Kinds of failure, stable for scripts and tests.
    public enum Code: String, Sendable {
        /// A required key has no value anywhere.
        case missingKey
        /// A key (or `STARLING_AGENT_...` / `STARLING_HUB_...` variable) that the program does not know.
        case unknownKey
        /// A value of the wrong type or outside its allowed range.
        case invalidValue
        /// The file is not a JSON object of keys.
        case malformed
        /// A file could not be read.
        case unreadable
        /// The firmware profile forbids what was asked (a model too large, a budget over it).
        case profileViolation
    }

    /// The kind of failure.
    public var code: Code
    /// The key at fault (dotted, as in the file), when there is one.
    public var key: String?
    /// A sentence a person can act on.
    public var message: String

    /// An error of `code` about `key`.
    public init(_ code: Code, key: String? = nil, _ message: String) {
        self.code = code
        self.key = key
        self.message = message
    }

    public var description: String { message }
}
