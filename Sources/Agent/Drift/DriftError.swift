/// What went wrong while sketching inputs and predictions or reporting the sketches.
///
/// The code is stable for scripts and tests; the message says what is wrong and what to do; the
/// underlying error (from the store or the protocol codec) is kept for logs.
public struct DriftError: Error, CustomStringConvertible, Sendable {
    /// Kinds of failure.
    public enum Code: String, Sendable {
        /// A `DriftConfiguration` setting is out of range; the message names the key.
        case invalidConfiguration
        /// The model cannot be sketched (no inputs, a version the protocol cannot carry, too many bins).
        case unsupportedModel
        /// A stored window's sketches could not be read back.
        case corruptWindow
        /// A window could not be turned into a valid `DriftReport`.
        case invalidReport
        /// The store failed to save a window or enqueue its report; it is retried.
        case storeFailed
    }

    /// The kind of failure.
    public var code: Code
    /// A sentence a person can act on.
    public var message: String
    /// The error from the store or the codec, if any.
    public var underlying: (any Error & Sendable)?

    /// An error of `code`.
    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        guard let underlying else { return "\(code.rawValue): \(message)" }
        return "\(code.rawValue): \(message) (\(underlying))"
    }
}
