import Core
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Hub

@Suite("HubAPI")
struct HubAPITests {
    static let model = ModelFixtures.model(seed: 1)

    /// Registers `version` of digits as alice through the API.
    static func register(_ client: some TestClientProtocol, _ tokens: APITokens, _ version: String, seed: UInt64 = 1) async throws
        -> TestResponse
    {
        try await client.send(
            .post, "/api/v1/models/digits/versions?version=\(version)&trainingRun=run-\(seed)", token: tokens.alice,
            bytes: ModelFixtures.model(seed: seed), headers: [HTTPField.Name("Starling-Metadata")!: #"{"accuracy":0.97}"#])
    }

    @Test func healthNeedsNoToken() async throws {
        try await withAPI { _, _, client in
            let response = try await client.send(.get, "/health", token: nil)
            #expect(response.status == .ok)
            #expect(response.json["status"] == .string("ok"))
        }
    }

    @Test(
        arguments: [
            (nil, "missingToken"), ("stk_0123456789abcdef_" + String(repeating: "A", count: 43), "invalidToken"),
            ("not-a-token", "malformedToken"),
        ] as [(String?, String)])
    func unauthenticatedIs401(token: String?, code: String) async throws {
        try await withAPI { _, _, client in
            let response = try await client.send(.get, "/api/v1/models", token: token)
            #expect(response.status == .unauthorized)
            #expect(response.headers[.wwwAuthenticate] == "Bearer")
            #expect(response.errorCode() == code)
        }
    }

    @Test func revokedTokenIs401() async throws {
        try await withAPI { _, tokens, client in
            let created = try await client.send(
                .post, "/api/v1/tokens", token: tokens.admin, json: #"{"subject":"ci","role":"viewer"}"#)
            #expect(created.status == .created)
            let secret = try #require(created.json["secret"]?.string)
            let id = try #require(created.json["token"]?["id"]?.string)
            #expect(try await client.send(.get, "/api/v1/models", token: secret).status == .ok)
            #expect(try await client.send(.delete, "/api/v1/tokens/\(id)", token: tokens.admin).status == .ok)
            let refused = try await client.send(.get, "/api/v1/models", token: secret)
            #expect(refused.status == .unauthorized)
            #expect(refused.errorCode() == "revokedToken")
            let list = try await client.send(.get, "/api/v1/tokens", token: tokens.admin)
            #expect(list.json["items"]?.array?.count == 5)
            #expect(list.json["next"] == .null)
            #expect(try await client.send(.get, "/api/v1/tokens", token: tokens.alice).errorCode() == "forbidden")
        }
    }

    /// A request for every mutating route, on a hub with a model, a version, an alias, a tag and a pending approval.
    static let mutating: [String: (uri: String, json: String?, bytes: [UInt8]?)] = [
        "POST /api/v1/models": ("/api/v1/models", #"{"name":"other"}"#, nil),
        "PATCH /api/v1/models/{name}": ("/api/v1/models/digits", #"{"description":"x"}"#, nil),
        "POST /api/v1/models/{name}/versions": ("/api/v1/models/digits/versions?version=9.0.0", nil, model),
        "PUT /api/v1/models/{name}/versions/{version}/tags/{key}": (
            "/api/v1/models/digits/versions/1.0.0/tags/stage", #"{"value":"qa"}"#, nil
        ),
        "DELETE /api/v1/models/{name}/versions/{version}/tags/{key}": (
            "/api/v1/models/digits/versions/1.0.0/tags/stage", nil, nil
        ),
        "PUT /api/v1/models/{name}/aliases/{alias}": ("/api/v1/models/digits/aliases/canary", #"{"version":"1.0.0"}"#, nil),
        "DELETE /api/v1/models/{name}/aliases/{alias}": ("/api/v1/models/digits/aliases/canary", nil, nil),
        "POST /api/v1/models/{name}/approvals": ("/api/v1/models/digits/approvals", #"{"version":"1.0.0","alias":"beta"}"#, nil),
        "POST /api/v1/models/{name}/approvals/{id}/approve": ("/api/v1/models/digits/approvals/1/approve", nil, nil),
        "POST /api/v1/models/{name}/approvals/{id}/reject": ("/api/v1/models/digits/approvals/1/reject", nil, nil),
        "POST /api/v1/tokens": ("/api/v1/tokens", #"{"subject":"x","role":"admin"}"#, nil),
        "DELETE /api/v1/tokens/{id}": ("/api/v1/tokens/0123456789abcdef", nil, nil),
        "PUT /api/v1/datasets/{name}": ("/api/v1/datasets/digits", nil, Array("a,b\n1,2\n".utf8)),
        "POST /api/v1/models/{name}/train": (
            "/api/v1/models/digits/train", #"{"version":"9.0.0","dataset":"digits","label":"b"}"#, nil
        ),
        "POST /api/v1/devices": ("/api/v1/devices", #"{"id":"dev-9","profile":"generic-linux"}"#, nil),
        "PATCH /api/v1/devices/{id}": ("/api/v1/devices/dev-1", #"{"labels":{"site":"x"}}"#, nil),
        "DELETE /api/v1/devices/{id}": ("/api/v1/devices/dev-1", nil, nil),
        "PUT /api/v1/groups/{name}": ("/api/v1/groups/lab", #"{"selector":"site=lab"}"#, nil),
        "DELETE /api/v1/groups/{name}": ("/api/v1/groups/lab", nil, nil),
        "POST /api/v1/rollouts": (
            "/api/v1/rollouts", #"{"model":"digits","version":"1.0.0","target":"site=lab","onFail":"pause"}"#, nil
        ),
        "POST /api/v1/rollouts/{id}/promote": ("/api/v1/rollouts/abc/promote", nil, nil),
        "POST /api/v1/rollouts/{id}/pause": ("/api/v1/rollouts/abc/pause", nil, nil),
        "POST /api/v1/rollouts/{id}/resume": ("/api/v1/rollouts/abc/resume", nil, nil),
        "POST /api/v1/rollouts/{id}/abort": ("/api/v1/rollouts/abc/abort", #"{"reason":"x"}"#, nil),
        "POST /api/v1/rounds": ("/api/v1/rounds", #"{"model":"digits"}"#, nil),
        "POST /api/v1/rounds/{id}/cancel": ("/api/v1/rounds/abc/cancel", #"{"reason":"x"}"#, nil),
    ]

    @Test func everyMutatingRouteIsCovered() {
        let routes = HubAPI.routes.filter { $0.method != .get }.map { "\($0.method.rawValue) \($0.path)" }
        #expect(Set(routes) == Set(Self.mutating.keys))
    }

    @Test func viewerCannotChangeAnything() async throws {
        try await withAPI { hub, tokens, client in
            try await ModelFixtures.register(hub, version: "1.0.0")
            try await hub.registry.setAlias(
                model: "digits", alias: "canary", version: SemanticVersion(1, 0, 0), by: HubFixture.alice)
            try await hub.registry.setTag(
                model: "digits", version: SemanticVersion(1, 0, 0), key: "stage", value: "qa", by: HubFixture.alice)
            try await hub.registry.requestApproval(model: "digits", version: SemanticVersion(1, 0, 0), by: HubFixture.alice)
            for (route, request) in Self.mutating.sorted(by: { $0.key < $1.key }) {
                let method = HTTPRequest.Method(String(route.split(separator: " ")[0]))!
                let response = try await client.send(
                    method, request.uri, token: tokens.viewer, json: request.json, bytes: request.bytes)
                #expect(response.status == .forbidden, "\(route)")
                #expect(response.errorCode() == "forbidden", "\(route)")
            }
            let log = try await hub.allAudit()
            #expect(log.allSatisfy { $0.subject != "vera" })
        }
    }

    @Test func registryFlowWithFourEyes() async throws {
        try await withAPI { _, tokens, client in
            let created = try await client.send(
                .post, "/api/v1/models", token: tokens.alice, json: #"{"name":"digits","description":"MNIST-ish"}"#)
            #expect(created.status == .created)
            #expect(created.json["fourEyes"] == .bool(true))
            for (index, version) in ["1.0.0", "1.1.0", "1.2.0"].enumerated() {
                let registered = try await Self.register(client, tokens, version, seed: UInt64(index + 1))
                #expect(registered.status == .created)
                #expect(registered.json["version"] == .string(version))
                #expect(registered.json["metadata"]?["accuracy"] == .number(0.97))
            }
            let one = try await client.send(.get, "/api/v1/models/digits/versions/1.1.0", token: tokens.viewer)
            #expect(one.json["lineage"]?["trainingRun"] == .string("run-2"))

            // Pagination: newest first, two per page.
            let first = try await client.send(.get, "/api/v1/models/digits/versions?limit=2", token: tokens.viewer)
            #expect(first.json["items"]?.array?.compactMap { $0["version"]?.string } == ["1.2.0", "1.1.0"])
            let cursor = try #require(first.json["next"]?.string)
            let second = try await client.send(
                .get, "/api/v1/models/digits/versions?limit=2&cursor=\(cursor)", token: tokens.viewer)
            #expect(second.json["items"]?.array?.compactMap { $0["version"]?.string } == ["1.0.0"])
            #expect(second.json["next"] == .null)

            // Aliases: canary directly, production only through an approval by someone else.
            let canary = try await client.send(
                .put, "/api/v1/models/digits/aliases/canary", token: tokens.alice, json: #"{"version":"1.1.0"}"#)
            #expect(canary.status == .ok)
            #expect(canary.json["version"] == .string("1.1.0"))
            let direct = try await client.send(
                .put, "/api/v1/models/digits/aliases/production", token: tokens.alice, json: #"{"version":"1.2.0"}"#)
            #expect(direct.status == .conflict)
            #expect(direct.errorCode() == "approvalRequired")
            let requested = try await client.send(
                .post, "/api/v1/models/digits/approvals", token: tokens.alice, json: #"{"version":"1.2.0","note":"ship it"}"#)
            #expect(requested.status == .created)
            guard case .number(let id)? = requested.json["id"] else { Issue.record("no approval id"); return }
            let own = try await client.send(.post, "/api/v1/models/digits/approvals/\(Int(id))/approve", token: tokens.alice)
            #expect(own.status == .conflict)
            #expect(own.errorCode() == "sameApprover")
            let approved = try await client.send(
                .post, "/api/v1/models/digits/approvals/\(Int(id))/approve", token: tokens.bob, json: #"{"reason":"looks good"}"#)
            #expect(approved.status == .ok)
            #expect(approved.json["state"] == .string("approved"))
            #expect(approved.json["decidedBy"] == .string("bob"))
            let production = try await client.send(.get, "/api/v1/models/digits/aliases/production", token: tokens.viewer)
            #expect(production.json["version"] == .string("1.2.0"))
            let aliases = try await client.send(.get, "/api/v1/models/digits/aliases", token: tokens.viewer)
            #expect(aliases.json.array?.compactMap { $0["name"]?.string } == ["canary", "production"])

            // The audit log shows who did what; viewers may not read it.
            let audit = try await client.send(.get, "/api/v1/audit?target=model/digits&limit=500", token: tokens.admin)
            let actions = audit.json["items"]?.array?.compactMap { $0["action"]?.string } ?? []
            #expect(actions.contains("alias.set"))
            #expect(actions.contains("approval.approved"))
            #expect(actions.filter { $0 == "version.registered" }.count == 3)
            let bobs = try await client.send(.get, "/api/v1/audit?subject=bob&action=approval.approved", token: tokens.alice)
            #expect(bobs.json["items"]?.array?.count == 1)
            #expect(try await client.send(.get, "/api/v1/audit", token: tokens.viewer).status == .forbidden)
        }
    }

    @Test func packageDownloadVerifiesWithTheHubKey() async throws {
        try await withAPI { hub, tokens, client in
            try await hub.registry.createModel(name: "digits", by: HubFixture.alice)
            #expect(try await Self.register(client, tokens, "1.0.0").status == .created)
            let package = try await client.send(.get, "/api/v1/models/digits/versions/1.0.0/package", token: tokens.viewer)
            #expect(package.status == .ok)
            #expect(package.headers[.contentType] == "application/octet-stream")
            let ring = try TrustRing(keys: [hub.registry.signingKey.publicKey])
            let verified = try PackageVerifier(trust: ring).verify(package.bytes)
            #expect(verified.modelBytes == Self.model)
            #expect(package.headers[HTTPField.Name("Starling-Package-Id")!] == verified.head.id)
            let file = try await client.send(.get, "/api/v1/models/digits/versions/1.0.0/model", token: tokens.viewer)
            #expect(file.bytes == Self.model)
        }
    }

    @Test func errorsHaveOneShape() async throws {
        try await withAPI { hub, tokens, client in
            try await hub.registry.createModel(name: "digits", by: HubFixture.alice)
            let cases: [(HTTPRequest.Method, String, String?, HTTPResponse.Status, String)] = [
                (.get, "/api/v1/models/nope", nil, .notFound, "notFound"),
                (.get, "/api/v1/models?limit=0", nil, .badRequest, "invalidRequest"),
                (.get, "/api/v1/audit?cursor=zzz", nil, .badRequest, "invalidArgument"),
                (.post, "/api/v1/models", #"{"name":"#, .badRequest, "invalidRequest"),
                (.post, "/api/v1/models", #"{"description":"no name"}"#, .badRequest, "invalidRequest"),
                (.post, "/api/v1/models", #"{"name":"digits"}"#, .conflict, "conflict"),
                (.post, "/api/v1/models", #"{"name":"bad name!"}"#, .badRequest, "invalidArgument"),
                (.get, "/api/v1/models/digits/versions/1.x", nil, .badRequest, "invalidRequest"),
                (.get, "/api/v1/models/digits/versions/1.0.0", nil, .notFound, "notFound"),
                (.post, "/api/v1/models/digits/versions", nil, .badRequest, "invalidRequest"),
                (.get, "/api/v1/nowhere", nil, .notFound, "notFound"),
                (.get, "/api/v1/audit?action=nothing", nil, .badRequest, "invalidRequest"),
            ]
            for (method, uri, json, status, code) in cases {
                let response = try await client.send(method, uri, token: tokens.alice, json: json)
                #expect(response.status == status, "\(method) \(uri)")
                #expect(response.errorCode() == code, "\(method) \(uri)")
            }
            let garbage = try await client.send(
                .post, "/api/v1/models/digits/versions?version=1.0.0", token: tokens.alice, bytes: [1, 2, 3])
            #expect(garbage.status == .badRequest)
            #expect(garbage.errorCode() == "packagingFailed")
        }
    }

    @Test func metricsCountRouteTemplates() async throws {
        try await withAPI { hub, tokens, client in
            try await hub.registry.createModel(name: "digits", by: HubFixture.alice)
            _ = try await client.send(.get, "/api/v1/models/digits", token: tokens.viewer)
            _ = try await client.send(.get, "/api/v1/models/nope", token: tokens.viewer)
            let text = String(buffer: try await client.send(.get, "/metrics", token: nil).body)
            let counts = text.split(separator: "\n").filter {
                $0.hasPrefix("starling_hub_http_requests_total{") && $0.contains(#"route="/api/v1/models/{name}""#)
            }
            #expect(counts.filter { $0.contains(#"status="200""#) && $0.hasSuffix(" 1") }.count == 1)
            #expect(counts.filter { $0.contains(#"status="404""#) && $0.hasSuffix(" 1") }.count == 1)
            #expect(text.contains("starling_hub_http_request_duration_seconds_bucket"))
            #expect(!text.contains("/api/v1/models/digits"))
        }
    }

    @Test func liveServer() async throws {
        try await withAPI(.live) { hub, tokens, client in
            #expect(try await client.send(.get, "/health", token: nil).status == .ok)
            #expect(try await client.send(.get, "/api/v1/models", token: nil).status == .unauthorized)
            let created = try await client.send(.post, "/api/v1/models", token: tokens.alice, json: #"{"name":"digits"}"#)
            #expect(created.status == .created)
            #expect(try await Self.register(client, tokens, "1.0.0").status == .created)
            let package = try await client.send(.get, "/api/v1/models/digits/versions/1.0.0/package", token: tokens.viewer)
            let ring = try TrustRing(keys: [hub.registry.signingKey.publicKey])
            #expect(try PackageVerifier(trust: ring).verify(package.bytes).modelBytes == Self.model)
        }
    }
}
