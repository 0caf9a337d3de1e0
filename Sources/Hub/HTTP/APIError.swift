import Foundation
import Hummingbird

/// A request the API itself refuses before any service sees it: a bad query parameter, an
/// unreadable body, an unknown route.
public struct APIError: Error, CustomStringConvertible, Sendable {
    /// The HTTP status.
    public var status: HTTPResponse.Status
    /// The stable code in the error body (`invalidRequest`, `notFound`, ...).
    public var code: String
    /// A sentence a person can act on.
    public var message: String

    /// An error answered with `status`.
    public init(_ status: HTTPResponse.Status, code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// A malformed request (400).
    static func invalidRequest(_ message: String) -> APIError { APIError(.badRequest, code: "invalidRequest", message) }

    public var description: String { message }
}

/// The one error body every route answers with: `{"error": {"code": "...", "message": "..."}}`.
public struct ErrorBody: Codable, Sendable, Equatable {
    /// The code and message.
    public struct Detail: Codable, Sendable, Equatable {
        /// Stable, for scripts: the domain error's code (`notFound`, `sameApprover`, `forbidden`, ...).
        public var code: String
        /// For people.
        public var message: String
    }

    /// The error.
    public var error: Detail

    /// A body with `code` and `message`.
    public init(code: String, message: String) {
        error = Detail(code: code, message: message)
    }
}

/// Maps every error a route can throw to a status and the one error body: the only place that
/// decides statuses.
enum ErrorMapping {
    /// The status and body for `error`.
    static func map(_ error: any Error) -> (status: HTTPResponse.Status, body: ErrorBody) {
        switch error {
        case let error as RegistryError:
            return (HTTPResponse.Status(code: error.httpStatus), ErrorBody(code: error.code.rawValue, message: error.message))
        case let error as FleetError:
            return (HTTPResponse.Status(code: error.httpStatus), ErrorBody(code: error.code.rawValue, message: error.message))
        case let error as RolloutError:
            return (HTTPResponse.Status(code: error.httpStatus), ErrorBody(code: error.code.rawValue, message: error.message))
        case let error as RoundError:
            return (HTTPResponse.Status(code: error.httpStatus), ErrorBody(code: error.code.rawValue, message: error.message))
        case let error as AuthError:
            return (HTTPResponse.Status(code: error.httpStatus), ErrorBody(code: error.code.rawValue, message: error.message))
        case let error as HubStoreError:
            return (status(of: error), ErrorBody(code: error.code.rawValue, message: error.message))
        case let error as APIError:
            return (error.status, ErrorBody(code: error.code, message: error.message))
        case let error as DecodingError:
            return (.badRequest, ErrorBody(code: "invalidRequest", message: "the request body is not valid: \(describe(error))"))
        case let error as HTTPError:
            return (error.status, ErrorBody(code: code(of: error.status), message: error.body ?? error.status.reasonPhrase))
        default:
            return (.internalServerError, ErrorBody(code: "internal", message: "the hub failed to answer; see its log"))
        }
    }

    /// The response for `error`: the error body as JSON, with `WWW-Authenticate` on a 401.
    static func response(for error: any Error) -> Response {
        let (status, body) = map(error)
        var response = (try? JSONBody.response(body, status: status)) ?? Response(status: status)
        if status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer" }
        return response
    }

    private static func status(of error: HubStoreError) -> HTTPResponse.Status {
        switch error.code {
        case .invalidArgument: .badRequest
        case .notFound: .notFound
        case .conflict, .refused: .conflict
        case .openFailed, .migrationFailed, .newerSchema, .artifactMissing, .artifactCorrupt, .ioFailed: .internalServerError
        }
    }

    private static func code(of status: HTTPResponse.Status) -> String {
        switch status {
        case .notFound: "notFound"
        case .methodNotAllowed: "methodNotAllowed"
        case .contentTooLarge: "tooLarge"
        case .badRequest: "invalidRequest"
        default: status.code < 500 ? "invalidRequest" : "internal"
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map(\.stringValue).joined(separator: ".")
            return keys.isEmpty ? context.debugDescription : "\(keys): \(context.debugDescription)"
        }
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context): return path(context)
        case .keyNotFound(let key, _): return "the member '\(key.stringValue)' is missing"
        @unknown default: return "\(error)"
        }
    }
}

/// Turns every error thrown below it into the one error body, so that nothing else needs to.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch {
            let response = ErrorMapping.response(for: error)
            if response.status == .internalServerError {
                context.logger.error(
                    "request failed", metadata: ["hub.http.route": "\(context.endpointPath ?? "none")", "error": "\(error)"])
            }
            return response
        }
    }
}
