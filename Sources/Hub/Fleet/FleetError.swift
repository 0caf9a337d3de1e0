import Core

/// Everything that can go wrong in fleet management: bad input, unknown or conflicting devices,
/// and failures to write or reload the broker's files.
public struct FleetError: DomainError {
    /// Kinds of failure.
    public enum Code: String, Sendable, CaseIterable {
        /// A device id, label, selector or group name breaks its rules.
        case invalidArgument
        /// No such device or group.
        case notFound
        /// The device is already enrolled (or already decommissioned).
        case conflict
        /// The broker's password or ACL file could not be written.
        case brokerFilesFailed
        /// The broker could not be told to reload (no pid, no such process).
        case brokerReloadFailed
        /// A bundle file could not be written.
        case bundleFailed
    }

    /// The kind of failure.
    public var code: Code
    /// A sentence a person can act on (never contains a password).
    public var message: String
    /// The underlying error, if any.
    public var underlying: (any Error)?

    /// An error of `code`.
    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// The HTTP status an API answers with.
    public var httpStatus: Int {
        switch code {
        case .invalidArgument: 400
        case .notFound: 404
        case .conflict: 409
        case .brokerFilesFailed, .brokerReloadFailed, .bundleFailed: 500
        }
    }
}
