/// What can go wrong defining or driving a federated round.
public struct RoundError: Error, Sendable, CustomStringConvertible {
    /// Kinds of failure.
    public enum Code: String, Sendable, CaseIterable {
        /// A setting of the request breaks a rule (ranges, encodings, strategy parameters).
        case invalidRequest
        /// The round, its model, version or target group does not exist.
        case notFound
        /// Another round of the model is running, or the round moved meanwhile.
        case conflict
        /// The command does not apply in the round's state (cancelling a finished round).
        case invalidTransition
    }

    /// The kind of failure.
    public var code: Code
    /// A sentence a person can act on.
    public var message: String

    /// An error of `code`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// The HTTP status an API answers with.
    public var httpStatus: Int {
        switch code {
        case .invalidRequest: 400
        case .notFound: 404
        case .conflict, .invalidTransition: 409
        }
    }
}
