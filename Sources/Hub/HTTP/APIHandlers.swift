import Core
import HTTPTypes
import Hummingbird

/// The route handlers: each reads its parameters, calls one service with the caller's
/// principal (the services check roles) and answers with JSON. Errors are left to the error
/// middleware.
struct APIHandlers: Sendable {
    /// The hub's services.
    let services: HubServices
    /// The hub's metrics.
    let metrics: HubMetrics

    var registry: RegistryService { services.registry }

    // MARK: - Health and metrics

    func health() throws -> Response {
        try JSONBody.response(APITypes.Health(status: "ok", version: HubVersion.current))
    }

    func metricsText() async -> Response {
        let text = metrics.exposition() + Array(await FleetAggregates.exposition(services).utf8)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: text)))
    }

    // MARK: - Models

    func listModels(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        _ = try context.caller()
        return try JSONBody.response(APITypes.PageBody(try await registry.models(page: request.pageRequest())))
    }

    func createModel(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        let body = try await JSONBody.decode(APITypes.CreateModel.self, from: request)
        let model = try await registry.createModel(
            name: body.name, description: body.description ?? "", owner: body.owner, fourEyes: body.fourEyes, by: caller)
        return try JSONBody.response(model, status: .created)
    }

    func getModel(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        _ = try context.caller()
        return try JSONBody.response(try await registry.model(named: context.path("name")))
    }

    func updateModel(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        let body = try await JSONBody.decode(APITypes.UpdateModel.self, from: request)
        let model = try await registry.updateModel(
            name: context.path("name"), description: body.description, owner: body.owner, fourEyes: body.fourEyes, by: caller)
        return try JSONBody.response(model)
    }

    // MARK: - Versions

    func listVersions(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        _ = try context.caller()
        let name = try context.path("name")
        _ = try await registry.model(named: name)
        return try JSONBody.response(APITypes.PageBody(try await registry.versions(model: name, page: request.pageRequest())))
    }

    /// The body is the raw model file; `version` and lineage come in the query, metadata as a
    /// JSON object in the `Starling-Metadata` header.
    func registerVersion(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        guard let versionText = request.query("version") else {
            throw APIError.invalidRequest("give the version to register as ?version=MAJOR.MINOR.PATCH")
        }
        let version = try HubRequestContext.semanticVersion(versionText, what: "version")
        let lineage = Lineage(
            parent: try request.query("parent").map { try HubRequestContext.semanticVersion($0, what: "parent") },
            trainingRun: request.query("trainingRun"), federatedRound: request.query("federatedRound"),
            importSource: request.query("importSource"), dataDigests: request.queryAll("dataDigest"))
        var metadata: [String: JSONValue] = [:]
        if let text = request.headers[HTTPField.Name.starlingMetadata] {
            guard case .object(let members) = JSONValue(text: text) else {
                throw APIError.invalidRequest("the Starling-Metadata header must be a JSON object")
            }
            metadata = members
        }
        var request = request
        let body = try await request.collectBody(upTo: registry.configuration.limits.maxModelBytes)
        guard body.readableBytes > 0 else { throw APIError.invalidRequest("the body must be the model file (.starling) bytes") }
        var modelFile = Array(body.readableBytesView)
        var lineageWithSource = lineage
        switch request.query("format") ?? "starling" {
        case "starling":
            break
        case "onnx":
            // Role first: a viewer's upload is refused before the hub spends time importing it.
            try caller.require(.operator)
            let text = request.query("quantize") ?? RegistryService.ImportQuantization.dynamic.rawValue
            guard let quantization = RegistryService.ImportQuantization(rawValue: text) else {
                throw APIError.invalidRequest("quantize '\(text.prefix(20))' must be dynamic, int8 or none")
            }
            if lineageWithSource.importSource == nil {
                lineageWithSource.importSource = "onnx:sha256:" + PackageDigest.sha256(modelFile)
            }
            let outputs = request.query("outputs").map { $0.split(separator: ",").map(String.init) }
            var calibration: DataTable?
            if let name = request.query("calibration") {
                let dataset = try await services.training.dataset(name: name, by: caller)
                calibration = try CSV.parse(try await services.artifacts.get(dataset.digest))
                lineageWithSource.dataDigests.append(dataset.digest)
            }
            let ignoring = Set((request.query("ignore") ?? "label").split(separator: ",").map(String.init))
            modelFile = try registry.importONNX(
                modelFile, model: try context.path("name"), outputs: outputs, quantization: quantization,
                calibration: calibration, ignoring: ignoring)
        case let other:
            throw APIError.invalidRequest("format '\(other.prefix(20))' must be starling or onnx")
        }
        let record = try await registry.registerVersion(
            model: context.path("name"), version: version, modelFile: modelFile, metadata: metadata,
            lineage: lineageWithSource, by: caller)
        return try JSONBody.response(record, status: .created)
    }

    func getVersion(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        _ = try context.caller()
        return try JSONBody.response(try await registry.version(model: context.path("name"), version: context.version()))
    }

    func downloadPackage(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        _ = try context.caller()
        let (name, version) = (try context.path("name"), try context.version())
        let record = try await registry.version(model: name, version: version)
        let bytes = try await registry.packageBytes(model: name, version: version)
        return Self.download(bytes, digest: record.package.digest, extra: [.starlingPackageId: record.packageId])
    }

    func downloadModelFile(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        _ = try context.caller()
        let (name, version) = (try context.path("name"), try context.version())
        let record = try await registry.version(model: name, version: version)
        let bytes = try await registry.modelFileBytes(model: name, version: version)
        return Self.download(bytes, digest: record.modelFile.digest, extra: [:])
    }

    private static func download(_ bytes: [UInt8], digest: String, extra: HTTPFields) -> Response {
        var headers: HTTPFields = [.contentType: "application/octet-stream", .eTag: "\"\(digest)\""]
        headers.append(contentsOf: extra)
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    // MARK: - Tags

    func setTag(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        let body = try await JSONBody.decode(APITypes.SetTag.self, from: request)
        let (name, version) = (try context.path("name"), try context.version())
        try await registry.setTag(model: name, version: version, key: context.path("key"), value: body.value, by: caller)
        return try JSONBody.response(try await registry.version(model: name, version: version))
    }

    func removeTag(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        let (name, version, key) = (try context.path("name"), try context.version(), try context.path("key"))
        guard try await registry.removeTag(model: name, version: version, key: key, by: caller) else {
            throw RegistryError(.notFound, "\(name) \(version) has no tag '\(key.prefix(80))'")
        }
        return Response(status: .noContent)
    }
}

extension HTTPField.Name {
    /// Version metadata (a JSON object) sent with a model file.
    static let starlingMetadata = HTTPField.Name("Starling-Metadata")!
    /// The package id (SHA-256 of the signed manifest) of a downloaded package.
    static let starlingPackageId = HTTPField.Name("Starling-Package-Id")!
}
