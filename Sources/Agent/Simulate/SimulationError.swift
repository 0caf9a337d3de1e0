import Core

/// Everything that can go wrong setting up or running a simulated fleet.
public struct SimulationError: DomainError {
    /// Kinds of failure.
    public enum Code: String, Sendable {
        /// A setting is out of range or malformed; the message names the flag.
        case invalidSetting
        /// An enrolment bundle is missing or unreadable.
        case bundleFailed
        /// A simulated agent could not start (store, transport, session).
        case startFailed
    }

    /// The kind of failure.
    public var code: Code
    /// A sentence a person can act on.
    public var message: String
    /// The error from the layer below, if any.
    public var underlying: (any Error)?

    /// An error of `code`.
    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }
}
