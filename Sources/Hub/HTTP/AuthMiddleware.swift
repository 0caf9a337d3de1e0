import Hummingbird

/// Authenticates every request under `/api/`: the bearer token becomes the context's principal.
/// A missing or invalid token is an `AuthError` (401); roles are checked by the services.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext

    /// Where tokens are checked.
    let tokens: TokenService

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response
    {
        guard request.uri.path.hasPrefix(HubAPI.prefix + "/") || request.uri.path == HubAPI.prefix else {
            return try await next(request, context)
        }
        guard let token = TokenService.bearerToken(authorization: request.headers[.authorization]) else {
            throw AuthError(.missingToken, "no bearer token; send 'Authorization: Bearer stk_...'")
        }
        var context = context
        context.principal = try await tokens.authenticate(bearer: token)
        return try await next(request, context)
    }
}
