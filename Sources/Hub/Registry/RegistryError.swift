import Core

/// Why a registry operation was refused.
///
/// Storage failures keep their `HubStoreError` as the underlying error (code `storageFailed`,
/// or the matching registry code for `conflict` and `notFound`). `httpStatus` is what the REST
/// layer answers with.
public struct RegistryError: DomainError {
    /// Kinds of failure.
    public enum Code: String, Sendable, CaseIterable {
        /// A name, version, alias, tag or page request breaks a rule.
        case invalidArgument
        /// The model, version or approval does not exist.
        case notFound
        /// It exists already (a model name, a version), or another request is pending.
        case conflict
        /// `production` of a model with four-eyes on is set through an approval, not directly.
        case approvalRequired
        /// The requester tried to approve their own request while four-eyes is on.
        case sameApprover
        /// The model file could not be packaged (invalid model, too large).
        case packagingFailed
        /// The store or the artifact store failed.
        case storageFailed
    }

    /// The kind of failure.
    public var code: Code
    /// A sentence a person can act on.
    public var message: String
    /// The underlying error (a `HubStoreError`, an `ArtifactError`), if any.
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
        case .invalidArgument, .packagingFailed: 400
        case .notFound: 404
        case .conflict, .approvalRequired, .sameApprover: 409
        case .storageFailed: 500
        }
    }
}

extension RegistryError {
    /// A store failure as a registry error: `conflict`, `notFound` and `invalidArgument` keep their
    /// meaning (and message), everything else is `storageFailed`.
    init(_ error: HubStoreError) {
        switch error.code {
        case .conflict: self.init(.conflict, error.message, underlying: error)
        case .notFound: self.init(.notFound, error.message, underlying: error)
        case .invalidArgument: self.init(.invalidArgument, error.message, underlying: error)
        case .refused: self.init(.conflict, error.message, underlying: error)
        case .openFailed, .migrationFailed, .newerSchema, .artifactMissing, .artifactCorrupt, .ioFailed:
            self.init(.storageFailed, error.message, underlying: error)
        }
    }
}
