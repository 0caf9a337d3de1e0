import Synchronization

/// Answers Open Inference Protocol requests: routing, health, metadata, inference, feedback and
/// metrics. It knows nothing of sockets; `OIPChannelHandler` feeds it complete requests, and
/// tests can call it directly.
final class OIPResponder: Sendable {
    let registry: ModelRegistry
    let log: (any PredictionLog)?
    let metrics: ServingMetrics
    /// Windowed counters for sync telemetry, if a sync session runs.
    let telemetry: TelemetryWindow?
    /// Outcomes per model version, for update probation, if updates run.
    let health: VersionHealth?
    let identity = RequestIdentity()
    private let draining = Atomic<Bool>(false)
    private let clock = ContinuousClock()

    init(
        registry: ModelRegistry, log: (any PredictionLog)?, metrics: ServingMetrics, telemetry: TelemetryWindow? = nil,
        health: VersionHealth? = nil
    ) {
        self.health = health
        self.registry = registry
        self.log = log
        self.metrics = metrics
        self.telemetry = telemetry
    }

    /// Whether the server is shutting down: not ready, and connections close after each response.
    var isDraining: Bool {
        get { draining.load(ordering: .relaxed) }
        set { draining.store(newValue, ordering: .relaxed) }
    }

    /// Answers `request`, calling `completion` exactly once (possibly on another thread).
    func respond(_ request: HTTPRequestMessage, completion: @escaping @Sendable (HTTPResponseMessage) -> Void) {
        let start = clock.now
        let route: OIPRoute
        switch OIPRoute.match(method: request.method, target: request.target) {
        case .success(let matched):
            route = matched
        case .failure(.notFound):
            finish(
                .error(InferenceError(.notFound, "no route for \(request.method) \(request.target)")), "unknown", start,
                completion)
            return
        case .failure(.methodNotAllowed(let allowed)):
            let error = InferenceError(.methodNotAllowed, "\(request.method) is not allowed on \(request.target); use \(allowed)")
            finish(.error(error, headers: [("Allow", allowed)]), "method_not_allowed", start, completion)
            return
        }
        let template = route.template
        let done: @Sendable (HTTPResponseMessage) -> Void = { [self] response in finish(response, template, start, completion) }
        do {
            switch route {
            case .live:
                done(.json(200, Array(#"{"live":true}"#.utf8)))
            case .ready:
                if registry.isReady && !isDraining {
                    done(.json(200, Array(#"{"ready":true}"#.utf8)))
                } else {
                    let why = isDraining ? "the agent is shutting down" : "no model is active yet"
                    done(.json(503, Array(#"{"ready":false,"error":"\#(why)"}"#.utf8)))
                }
            case .serverMetadata:
                done(.json(200, serverMetadata()))
            case .metrics:
                done(
                    HTTPResponseMessage(
                        status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                        body: metrics.exposition()))
            case .modelMetadata(let name, let version):
                done(.json(200, try modelMetadata(registry.model(name, version: version))))
            case .modelReady(let name, let version):
                let served = try registry.model(name, version: version)
                var json = JSONWriter()
                json.raw("{")
                json.key("name")
                json.string(served.name)
                json.comma()
                json.key("version")
                json.string(served.version)
                json.raw(#","ready":true}"#)
                done(.json(200, json.bytes))
            case .infer(let name, let version):
                try infer(request, name: name, version: version, completion: done)
            case .feedback(let name, let version):
                try feedback(request, name: name, version: version, completion: done)
            }
        } catch {
            done(.error(error))
        }
    }

    private func finish(
        _ response: HTTPResponseMessage, _ template: String, _ start: ContinuousClock.Instant,
        _ completion: @Sendable (HTTPResponseMessage) -> Void
    ) {
        completion(response)
        metrics.recordRequest(route: template, status: response.status, duration: start.duration(to: clock.now))
    }

    // MARK: - Metadata

    private func serverMetadata() -> [UInt8] {
        var json = JSONWriter()
        json.raw(#"{"name":"starling-agent","version":"#)
        json.string(AgentVersion.current)
        json.raw(#","extensions":["binary_tensor_data"]}"#)
        return json.bytes
    }

    private func modelMetadata(_ served: ServedModel) -> [UInt8] {
        var json = JSONWriter(capacity: 512)
        json.raw("{")
        json.key("name")
        json.string(served.name)
        json.comma()
        json.key("versions")
        json.raw("[")
        let versions = registry.versions(of: served.name)?.loaded ?? [served.version]
        for (i, version) in versions.enumerated() {
            if i > 0 { json.comma() }
            json.string(version)
        }
        json.raw("],")
        json.key("platform")
        json.string("starling_int8")
        json.comma()
        json.key("inputs")
        specs(served.signature.inputs, into: &json)
        json.comma()
        json.key("outputs")
        specs(served.signature.outputs, into: &json)
        json.raw("}")
        return json.bytes
    }

    private func specs(_ specs: [TensorSpec], into json: inout JSONWriter) {
        json.raw("[")
        for (i, spec) in specs.enumerated() {
            if i > 0 { json.comma() }
            json.raw("{")
            InferenceResponse.tensorFields(name: spec.name, datatype: spec.datatype, shape: spec.shape, into: &json)
            json.raw("}")
        }
        json.raw("]")
    }
}
