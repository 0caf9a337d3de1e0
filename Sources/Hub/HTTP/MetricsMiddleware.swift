import Hummingbird

/// Records each request's route template, status and duration. It sits outside the error
/// middleware, so it sees the status the client gets.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext

    /// Where requests are counted.
    let metrics: HubMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response
    {
        let clock = ContinuousClock()
        let start = clock.now
        let status: Int
        let response: Response
        do {
            response = try await next(request, context)
            status = response.status.code
        } catch {
            metrics.recordRequest(
                route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: 500,
                duration: clock.now - start)
            throw error
        }
        metrics.recordRequest(
            route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: status,
            duration: clock.now - start)
        return response
    }
}
