import Core
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Hub

/// Bearer tokens of every role for API tests, issued on the fixture's hub.
struct APITokens: Sendable {
    let admin: String
    let alice: String
    let bob: String
    let viewer: String

    static func issue(_ hub: HubFixture) async throws -> APITokens {
        func make(_ subject: String, _ role: Role) async throws -> String {
            try await hub.tokens.create(subject: subject, role: role, by: .localCommandLine).secret
        }
        return APITokens(
            admin: try await make("root-admin", .admin), alice: try await make("alice", .operator),
            bob: try await make("bob", .operator), viewer: try await make("vera", .viewer))
    }
}

/// Runs `body` against the API of a new hub, in-process (`.router`) or on a socket (`.live`).
func withAPI(
    _ setup: TestingSetup = .router, _ tweak: (inout HubConfiguration) -> Void = { _ in },
    _ body: @escaping @Sendable (HubFixture, APITokens, any TestClientProtocol) async throws -> Void
) async throws {
    try await withHub(tweak) { hub in
        let tokens = try await APITokens.issue(hub)
        let app = HubAPI.makeApplication(services: hub.services)
        try await app.test(setup) { client in try await body(hub, tokens, client) }
    }
}

extension TestClientProtocol {
    /// Sends a request with `token` (if any) and a JSON or raw body.
    @discardableResult
    func send(
        _ method: HTTPRequest.Method, _ uri: String, token: String?, json: String? = nil, bytes: [UInt8]? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> TestResponse {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        var body: ByteBuffer?
        if let json {
            headers[.contentType] = "application/json"
            body = ByteBuffer(string: json)
        } else if let bytes {
            headers[.contentType] = "application/octet-stream"
            body = ByteBuffer(bytes: bytes)
        }
        return try await execute(uri: uri, method: method, headers: headers, body: body)
    }
}

extension TestResponse {
    /// The body as JSON.
    var json: JSONValue {
        JSONValue(text: String(buffer: body)) ?? .null
    }

    /// The body's bytes.
    var bytes: [UInt8] { Array(body.readableBytesView) }

    /// The error body's code, after checking the body has exactly the one error shape.
    func errorCode(sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        guard case .object(let top) = json, top.count == 1, case .object(let detail)? = top["error"],
            Set(detail.keys) == ["code", "message"], case .string(let code)? = detail["code"],
            case .string(let message)? = detail["message"], !message.isEmpty
        else {
            Issue.record("not the error body shape: \(String(buffer: body))", sourceLocation: sourceLocation)
            return nil
        }
        return code
    }
}

extension JSONValue {
    /// The string value, if a string.
    var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The array value, if an array.
    var array: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }
}
