/// What can go wrong defining or driving a rollout.
public struct RolloutError: Error, Sendable, CustomStringConvertible {
    /// Kinds of failure.
    public enum Code: String, Sendable, CaseIterable {
        /// A gate does not parse.
        case invalidGate
        /// Phases, minimum devices or the observation window break a rule.
        case invalidPlan
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
}
