/// Everything that can go wrong building, loading, training or running a model.
public struct ModelError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; stable for scripts and tests.
    public enum Code: String, Sendable {
        case invalidGraph
        case unsupportedOp
        case shapeMismatch
        case invalidInput
        case nonFinite
        case corruptFile
        case newerFormat
        case invalidData
        case invalidArgument
        case io
    }

    /// The kind of failure.
    public var code: Code
    /// A sentence a person can act on.
    public var message: String
    /// The error that caused this one, if any.
    public var underlying: (any Error & Sendable)?

    /// An error of `code` with an actionable `message`.
    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        if let underlying { return "\(message) (\(underlying))" }
        return message
    }
}
