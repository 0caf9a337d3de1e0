/// What went wrong while serving an inference or protocol request. The HTTP layer maps each
/// code to one status (see `InferenceError.Code.httpStatus`).
public struct InferenceError: Error, CustomStringConvertible, Sendable {
    /// Kinds of failure.
    public enum Code: String, Sendable {
        /// The request is malformed or does not fit the model (400).
        case invalidRequest
        /// No such model, version, route or logged prediction (404).
        case notFound
        /// The route exists but not for this method (405).
        case methodNotAllowed
        /// The request conflicts with stored state, e.g. a prediction already labelled (409).
        case conflict
        /// The request body is larger than the server accepts (413).
        case payloadTooLarge
        /// The server cannot take the request now: queue full, model not ready, shutting down (503).
        case unavailable
        /// A fault of the server, not of the request (500).
        case `internal`
    }

    /// The kind of failure.
    public var code: Code
    /// A message a client can act on.
    public var message: String
    /// The underlying error, if any.
    public var underlying: (any Error & Sendable)?

    /// An error of kind `code`.
    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

extension InferenceError.Code {
    /// The HTTP status for this kind of failure.
    public var httpStatus: Int {
        switch self {
        case .invalidRequest: 400
        case .notFound: 404
        case .methodNotAllowed: 405
        case .conflict: 409
        case .payloadTooLarge: 413
        case .unavailable: 503
        case .internal: 500
        }
    }
}
