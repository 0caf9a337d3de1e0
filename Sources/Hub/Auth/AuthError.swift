import Core

/// Why a request could not be authenticated or is not allowed.
///
/// `httpStatus` is 401 for every failure to authenticate and 403 for `forbidden`, so an HTTP
/// layer maps it without looking at the code.
public struct AuthError: DomainError {
    /// Kinds of failure.
    public enum Code: String, Sendable, CaseIterable {
        /// No bearer token was given.
        case missingToken
        /// The text is not a Starling token (`stk_<id>_<secret>`).
        case malformedToken
        /// No such token, or the secret does not match.
        case invalidToken
        /// The token has expired.
        case expiredToken
        /// The token was revoked.
        case revokedToken
        /// The token is valid but its role does not allow the operation.
        case forbidden
        /// A token could not be created or revoked as asked (a bad subject, a past expiry, an unknown id).
        case invalidRequest
    }

    /// The kind of failure.
    public var code: Code
    /// A sentence a person can act on (never contains the secret).
    public var message: String
    /// The underlying error, if any.
    public var underlying: (any Error)?

    /// An error of `code`.
    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// The HTTP status an API answers with: 401 unauthenticated, 403 forbidden, 400 bad request.
    public var httpStatus: Int {
        switch code {
        case .missingToken, .malformedToken, .invalidToken, .expiredToken, .revokedToken: 401
        case .forbidden: 403
        case .invalidRequest: 400
        }
    }
}
