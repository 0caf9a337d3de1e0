/// An error of one domain (store, sync, registry, ...): a message a person can act on and the
/// underlying error, if any. Its description is the message with the underlying error after it.
public protocol DomainError: Error, CustomStringConvertible, Sendable {
    /// A sentence a person can act on.
    var message: String { get }
    /// The error from the layer below, if any (kept for logs).
    var underlying: (any Error)? { get }
}

extension DomainError {
    /// The message, then the underlying error in parentheses.
    public var description: String {
        guard let underlying else { return message }
        return "\(message) (\(underlying))"
    }
}
