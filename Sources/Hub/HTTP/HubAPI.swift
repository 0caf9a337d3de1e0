import Hummingbird
import Logging
import NIOCore

/// The hub's REST API: JSON under `/api/v1`, plus `/health` and `/metrics`.
///
/// The router is built from one table, `HubAPI.routes`, which `docs/openapi.yaml` must match
/// (a test checks both ways). Middleware, outermost first: metrics, the error body, bearer
/// authentication for `/api/`.
public enum HubAPI {
    /// The prefix of every authenticated route.
    public static let prefix = "/api/v1"

    /// A handler: the services, the request, its context.
    typealias Handler = @Sendable (APIHandlers, Request, HubRequestContext) async throws -> Response

    /// One route: a method, an OpenAPI-style path template (`/api/v1/models/{name}`) and its handler.
    public struct Route: Sendable {
        /// The HTTP method.
        public let method: HTTPRequest.Method
        /// The path template, with `{parameter}` segments.
        public let path: String
        let handler: Handler

        init(_ method: HTTPRequest.Method, _ path: String, _ handler: @escaping Handler) {
            self.method = method
            self.path = path
            self.handler = handler
        }
    }

    /// Every route the API serves.
    public static let routes: [Route] = [
        Route(.get, "/health") { api, _, _ in try api.health() },
        Route(.get, "/metrics") { api, _, _ in await api.metricsText() },
        // Models and versions
        Route(.get, prefix + "/models") { try await $0.listModels($1, $2) },
        Route(.post, prefix + "/models") { try await $0.createModel($1, $2) },
        Route(.get, prefix + "/models/{name}") { try await $0.getModel($1, $2) },
        Route(.patch, prefix + "/models/{name}") { try await $0.updateModel($1, $2) },
        Route(.get, prefix + "/models/{name}/versions") { try await $0.listVersions($1, $2) },
        Route(.post, prefix + "/models/{name}/versions") { try await $0.registerVersion($1, $2) },
        Route(.get, prefix + "/models/{name}/versions/{version}") { try await $0.getVersion($1, $2) },
        Route(.get, prefix + "/models/{name}/versions/{version}/package") { try await $0.downloadPackage($1, $2) },
        Route(.get, prefix + "/models/{name}/versions/{version}/model") { try await $0.downloadModelFile($1, $2) },
        Route(.put, prefix + "/models/{name}/versions/{version}/tags/{key}") { try await $0.setTag($1, $2) },
        Route(.delete, prefix + "/models/{name}/versions/{version}/tags/{key}") { try await $0.removeTag($1, $2) },
        // Aliases and approvals
        Route(.get, prefix + "/models/{name}/aliases") { try await $0.listAliases($1, $2) },
        Route(.get, prefix + "/models/{name}/aliases/{alias}") { try await $0.getAlias($1, $2) },
        Route(.put, prefix + "/models/{name}/aliases/{alias}") { try await $0.setAlias($1, $2) },
        Route(.delete, prefix + "/models/{name}/aliases/{alias}") { try await $0.clearAlias($1, $2) },
        Route(.get, prefix + "/models/{name}/approvals") { try await $0.listApprovals($1, $2) },
        Route(.post, prefix + "/models/{name}/approvals") { try await $0.requestApproval($1, $2) },
        Route(.get, prefix + "/models/{name}/approvals/{id}") { try await $0.getApproval($1, $2) },
        Route(.post, prefix + "/models/{name}/approvals/{id}/approve") { try await $0.decide($1, $2, approve: true) },
        Route(.post, prefix + "/models/{name}/approvals/{id}/reject") { try await $0.decide($1, $2, approve: false) },
        // Datasets and training
        Route(.get, prefix + "/datasets") { try await $0.listDatasets($1, $2) },
        Route(.get, prefix + "/datasets/{name}") { try await $0.getDataset($1, $2) },
        Route(.put, prefix + "/datasets/{name}") { try await $0.putDataset($1, $2) },
        Route(.post, prefix + "/models/{name}/train") { try await $0.train($1, $2) },
        // Devices and groups
        Route(.get, prefix + "/devices") { try await $0.listDevices($1, $2) },
        Route(.post, prefix + "/devices") { try await $0.enrollDevice($1, $2) },
        Route(.get, prefix + "/devices/{id}") { try await $0.getDevice($1, $2) },
        Route(.patch, prefix + "/devices/{id}") { try await $0.updateDevice($1, $2) },
        Route(.delete, prefix + "/devices/{id}") { try await $0.decommissionDevice($1, $2) },
        Route(.get, prefix + "/groups") { try await $0.listGroups($1, $2) },
        Route(.get, prefix + "/groups/{name}") { try await $0.getGroup($1, $2) },
        Route(.put, prefix + "/groups/{name}") { try await $0.setGroup($1, $2) },
        Route(.delete, prefix + "/groups/{name}") { try await $0.removeGroup($1, $2) },
        // Rollouts
        Route(.get, prefix + "/rollouts") { try await $0.listRollouts($1, $2) },
        Route(.post, prefix + "/rollouts") { try await $0.createRollout($1, $2) },
        Route(.get, prefix + "/rollouts/{id}") { try await $0.getRollout($1, $2) },
        Route(.post, prefix + "/rollouts/{id}/promote") { try await $0.commandRollout($1, $2, .promote) },
        Route(.post, prefix + "/rollouts/{id}/pause") { try await $0.commandRollout($1, $2, .pause) },
        Route(.post, prefix + "/rollouts/{id}/resume") { try await $0.commandRollout($1, $2, .resume) },
        Route(.post, prefix + "/rollouts/{id}/abort") { try await $0.commandRollout($1, $2, .abort) },
        // Federated rounds
        Route(.get, prefix + "/rounds") { try await $0.listRounds($1, $2) },
        Route(.post, prefix + "/rounds") { try await $0.startRound($1, $2) },
        Route(.get, prefix + "/rounds/{id}") { try await $0.getRound($1, $2) },
        Route(.post, prefix + "/rounds/{id}/cancel") { try await $0.cancelRound($1, $2) },
        // Tokens and audit
        Route(.get, prefix + "/tokens") { try await $0.listTokens($1, $2) },
        Route(.post, prefix + "/tokens") { try await $0.createToken($1, $2) },
        Route(.delete, prefix + "/tokens/{id}") { try await $0.revokeToken($1, $2) },
        Route(.get, prefix + "/audit") { try await $0.listAudit($1, $2) },
    ]

    /// The router serving `routes` on `services`, counting requests in `metrics`.
    public static func makeRouter(services: HubServices, metrics: HubMetrics? = nil) -> Router<HubRequestContext> {
        let metrics = metrics ?? services.metrics
        let router = Router(context: HubRequestContext.self)
        router.add(middleware: MetricsMiddleware(metrics: metrics))
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: AuthMiddleware(tokens: services.tokens))
        let handlers = APIHandlers(services: services, metrics: metrics)
        for route in routes {
            let handler = route.handler
            router.on(RouterPath(route.path), method: route.method) { request, context in
                try await handler(handlers, request, context)
            }
        }
        return router
    }

    /// The application serving the API on `services` at `services.configuration.http`;
    /// `onListening` gets the bound port once the server runs (useful with port 0).
    public static func makeApplication(
        services: HubServices, metrics: HubMetrics? = nil, logger: Logger = Logger(label: "starling.hub"),
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let http = services.configuration.http
        return Application(
            router: makeRouter(services: services, metrics: metrics),
            configuration: ApplicationConfiguration(address: .hostname(http.host, port: http.port), serverName: "starling-hub"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? http.port) },
            logger: logger)
    }

    /// Serves the API on `services` until SIGINT or SIGTERM, then returns after a graceful shutdown.
    public static func serve(
        services: HubServices, logger: Logger = Logger(label: "starling.hub"),
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws {
        try await makeApplication(services: services, logger: logger, onListening: onListening).runService()
    }
}
