/// Everything federated code refuses: malformed or out-of-bounds updates, encodings it cannot
/// read, strategies misconfigured. The code is stable for scripts, counters and tests; the
/// message says what is wrong and what to do.
public struct FederationError: DomainError, Equatable {
    /// What kind of failure this is.
    public enum Code: String, Sendable, CaseIterable {
        /// A setting is out of range (learning rate, trim fraction, Krum's f, noise multiplier).
        case invalidArgument
        /// An update's length or layout does not match the model's.
        case shapeMismatch
        /// An update holds NaN or infinity.
        case nonFinite
        /// An update's L2 norm is over the bound.
        case normTooLarge
        /// An encoded update cannot be read (truncated, unknown encoding, bad header).
        case malformed
        /// Not enough updates to aggregate (none, or fewer than the strategy needs).
        case notEnoughUpdates
        /// Local training could not run (no examples, diverged, model without parameters).
        case training
        /// A networked simulation could not reach its broker, or a client did not answer in time.
        case network
    }

    /// The kind of failure.
    public var code: Code
    /// A sentence a person can act on.
    public var message: String
    /// Always nil: federated errors are raised here, not wrapped.
    public var underlying: (any Error)? { nil }

    /// An error of `code`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}
