import Hummingbird

extension APIHandlers {
    // MARK: - Tokens

    func listTokens(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        return try JSONBody.response(APITypes.PageBody(try await services.tokens.list(page: request.pageRequest(), by: caller)))
    }

    func createToken(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        let body = try await JSONBody.decode(APITypes.CreateToken.self, from: request)
        let issued = try await services.tokens.create(
            subject: body.subject, role: body.role, expiresAt: body.expiresAt, by: caller)
        return try JSONBody.response(APITypes.IssuedTokenBody(token: issued.record, secret: issued.secret), status: .created)
    }

    func revokeToken(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        return try JSONBody.response(try await services.tokens.revoke(id: context.path("id"), by: caller))
    }

    // MARK: - Audit

    func listAudit(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        var filter = AuditFilter(target: request.query("target"), subject: request.query("subject"))
        if let text = request.query("action") {
            guard let action = AuditAction(rawValue: text) else {
                throw APIError.invalidRequest("action '\(text.prefix(40))' is not an audit action (e.g. alias.set)")
            }
            filter.action = action
        }
        let page = try await services.audit.entries(filter: filter, page: request.pageRequest(), by: caller)
        return try JSONBody.response(APITypes.PageBody(page))
    }
}
