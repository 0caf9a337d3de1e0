import Hummingbird

/// The context of one API request: Hummingbird's core storage plus the caller, once the
/// authentication middleware has identified them.
public struct HubRequestContext: RequestContext {
    /// Hummingbird's per-request storage (logger, route template, path parameters).
    public var coreContext: CoreRequestContextStorage
    /// The authenticated caller; nil on the unauthenticated routes (`/health`, `/metrics`).
    public var principal: Principal?

    /// A context for a request arriving from `source`.
    public init(source: Source) {
        coreContext = CoreRequestContextStorage(source: source)
    }

    /// JSON request bodies are small; model files are read with their own limit.
    public var maxUploadSize: Int { 1 << 20 }

    /// The caller; `missingToken` when the route was reached without authentication.
    func caller() throws(AuthError) -> Principal {
        guard let principal else { throw AuthError(.missingToken, "no bearer token; send 'Authorization: Bearer stk_...'") }
        return principal
    }
}
