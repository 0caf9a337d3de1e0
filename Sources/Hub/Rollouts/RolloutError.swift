/// What can go wrong defining or driving a rollout.
public struct RolloutError: Error, Sendable, CustomStringConvertible {
    /// Kinds of failure.
    public enum Code: String, Sendable, CaseIterable {
        /// A gate does not parse.
        case invalidGate
        /// Phases, minimum devices or the observation window break a rule.
        case invalidPlan
        /// The rollout, its model, version, baseline or target group does not exist.
        case notFound
        /// Another rollout of the model is active, or the rollout moved meanwhile.
        case conflict
        /// The command does not apply in the rollout's state (promoting a finished rollout).
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
        case .invalidGate, .invalidPlan: 400
        case .notFound: 404
        case .conflict, .invalidTransition: 409
        }
    }
}
