import Hummingbird

extension APIHandlers {
    func listRounds(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        _ = try context.caller()
        let active = request.query("active").map { ["true", "1", "yes"].contains($0.lowercased()) } ?? false
        let rounds = try await services.rounds.list(activeOnly: active)
        return try JSONBody.response(APITypes.PageBody(Page(items: rounds, next: nil)))
    }

    func startRound(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        let body = try await JSONBody.decode(RoundRequest.self, from: request)
        return try JSONBody.response(try await services.rounds.start(body, by: caller), status: .created)
    }

    func getRound(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        _ = try context.caller()
        return try JSONBody.response(try await services.rounds.view(id: context.path("id")))
    }

    func cancelRound(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        let body = try await JSONBody.decode(APITypes.Decision.self, from: request, empty: APITypes.Decision(reason: nil))
        return try JSONBody.response(try await services.rounds.cancel(id: context.path("id"), reason: body.reason, by: caller))
    }
}
