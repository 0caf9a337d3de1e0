import Core

/// Why the agent could not answer a federated task: its local data, model or key, or the
/// training itself. Declined tasks (budget, deadline, too few examples) are not errors.
public struct FederatedAgentError: DomainError {
    /// What kind of failure this is.
    public enum Code: String, Sendable, CaseIterable {
        /// The labelled rows or the local data file cannot be used.
        case localData
        /// The installed model cannot be read as a trainable float model.
        case model
        /// Training, encoding or signing failed.
        case training
        /// The store refused to keep the round or its update.
        case storage
        /// The signing key file cannot be read.
        case key
    }

    /// The kind of failure.
    public var code: Code
    /// A sentence a person can act on.
    public var message: String
    /// The error underneath, if any.
    public var underlying: (any Error)?

    /// An error of `code`.
    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }
}
