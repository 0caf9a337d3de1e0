import Core
import Hummingbird

extension APIHandlers {
    // MARK: - Aliases

    func listAliases(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        _ = try context.caller()
        let name = try context.path("name")
        _ = try await registry.model(named: name)
        return try JSONBody.response(try await registry.aliases(model: name))
    }

    func getAlias(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        _ = try context.caller()
        let (name, alias) = (try context.path("name"), try context.path("alias"))
        guard let found = try await registry.aliases(model: name).first(where: { $0.name == alias }) else {
            _ = try await registry.model(named: name)
            throw RegistryError(.notFound, "model '\(name.prefix(80))' has no alias '\(alias.prefix(80))'")
        }
        return try JSONBody.response(found)
    }

    func setAlias(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        let body = try await JSONBody.decode(APITypes.SetAlias.self, from: request)
        let version = try HubRequestContext.semanticVersion(body.version, what: "version")
        let alias = try await registry.setAlias(
            model: context.path("name"), alias: context.path("alias"), version: version, by: caller)
        return try JSONBody.response(alias)
    }

    func clearAlias(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        let (name, alias) = (try context.path("name"), try context.path("alias"))
        guard try await registry.clearAlias(model: name, alias: alias, by: caller) != nil else {
            throw RegistryError(.notFound, "model '\(name.prefix(80))' has no alias '\(alias.prefix(80))'")
        }
        return Response(status: .noContent)
    }

    // MARK: - Approvals

    func listApprovals(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        _ = try context.caller()
        let name = try context.path("name")
        var state: ApprovalState?
        if let text = request.query("state") {
            guard let parsed = ApprovalState(rawValue: text) else {
                throw APIError.invalidRequest("state '\(text.prefix(20))' must be pending, approved or rejected")
            }
            state = parsed
        }
        _ = try await registry.model(named: name)
        let page = try await registry.approvals(model: name, state: state, page: request.pageRequest())
        return try JSONBody.response(APITypes.PageBody(page))
    }

    func requestApproval(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        let body = try await JSONBody.decode(APITypes.RequestApproval.self, from: request)
        let version = try HubRequestContext.semanticVersion(body.version, what: "version")
        let approval = try await registry.requestApproval(
            model: context.path("name"), version: version, alias: body.alias ?? ModelAlias.production, note: body.note ?? "",
            by: caller)
        return try JSONBody.response(approval, status: .created)
    }

    func getApproval(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        _ = try context.caller()
        return try JSONBody.response(try await approval(context))
    }

    func decide(_ request: Request, _ context: HubRequestContext, approve: Bool) async throws -> Response {
        let caller = try context.caller()
        let body = try await JSONBody.decode(APITypes.Decision.self, from: request, empty: APITypes.Decision())
        let id = try await approval(context).id
        if approve {
            return try JSONBody.response(try await registry.approve(id, reason: body.reason ?? "", by: caller))
        }
        return try JSONBody.response(try await registry.reject(id, reason: body.reason ?? "", by: caller))
    }

    /// The approval `{id}` of model `{name}`; `notFound` when it belongs to another model.
    private func approval(_ context: HubRequestContext) async throws -> Approval {
        let (name, text) = (try context.path("name"), try context.path("id"))
        guard let id = Int64(text) else { throw APIError.invalidRequest("approval id '\(text.prefix(20))' is not a number") }
        let found = try await registry.approval(id)
        guard found.model == name else { throw RegistryError(.notFound, "model '\(name.prefix(80))' has no approval \(id)") }
        return found
    }
}
