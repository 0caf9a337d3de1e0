import Hummingbird

extension APIHandlers {
    func listDatasets(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        return try JSONBody.response(APITypes.PageBody(Page(items: try await services.training.datasets(by: caller), next: nil)))
    }

    func getDataset(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        return try JSONBody.response(try await services.training.dataset(name: context.path("name"), by: caller))
    }

    func putDataset(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        try caller.require(.operator)
        var request = request
        let body = try await request.collectBody(upTo: TrainingService.maxDatasetBytes)
        let dataset = try await services.training.putDataset(
            name: context.path("name"), csv: Array(body.readableBytesView), by: caller)
        return try JSONBody.response(dataset, status: .created)
    }

    func train(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        try caller.require(.operator)
        let body = try await JSONBody.decode(TrainingService.Request.self, from: request)
        let outcome = try await services.training.train(model: context.path("name"), body, by: caller)
        return try JSONBody.response(outcome, status: .created)
    }
}
