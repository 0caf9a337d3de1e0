import Hummingbird

extension APIHandlers {
    func listRollouts(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        let active = request.query("active").map { ["true", "1", "yes"].contains($0.lowercased()) } ?? false
        let views = try await services.rollouts.views(activeOnly: active, by: caller)
        return try JSONBody.response(APITypes.PageBody(Page(items: views, next: nil)))
    }

    func createRollout(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        let body = try await JSONBody.decode(RolloutRequest.self, from: request)
        return try JSONBody.response(try await services.rollouts.create(body, by: caller), status: .created)
    }

    func getRollout(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        return try JSONBody.response(try await services.rollouts.view(id: context.path("id"), by: caller))
    }

    func commandRollout(_ request: Request, _ context: HubRequestContext, _ command: RolloutCommand) async throws -> Response {
        let caller = try context.caller()
        let body = try await JSONBody.decode(APITypes.Decision.self, from: request, empty: APITypes.Decision(reason: nil))
        return try JSONBody.response(
            try await services.rollouts.command(command, id: context.path("id"), reason: body.reason, by: caller))
    }
}
