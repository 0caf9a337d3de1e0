import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One request to the hub's REST API, relative to `/api/v1`.
struct HubRequest: Sendable {
    /// What the request carries.
    enum Body: Sendable {
        case none
        case json(JSONValue)
        /// A file sent as raw bytes (`application/octet-stream`), streamed from disk.
        case file(String)
    }

    var method: String
    /// Path segments under `/api/v1`; each is percent-encoded on its own.
    var path: [String]
    var query: [(String, String)] = []
    var body: Body = .none
    var headers: [String: String] = [:]

    init(_ method: String, _ path: [String], query: [(String, String)] = [], body: Body = .none) {
        self.method = method
        self.path = path
        self.query = query
        self.body = body
    }
}

/// The hub's answer: status, headers (lower-case names) and body.
struct HubResponse: Sendable {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]
}

/// A client of the hub's REST API over `URLSession`: bearer token, JSON bodies, one error type.
struct HubClient: Sendable {
    /// The hub's base URL, e.g. `http://127.0.0.1:8080` (a path prefix is kept).
    let base: URL
    /// The bearer token, if any (without one the hub answers 401 `missingToken`).
    let token: String?

    private static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        // Idle time allowed: a hub importing and quantizing an ONNX upload answers only when done.
        configuration.timeoutIntervalForRequest = 600
        return URLSession(configuration: configuration)
    }()

    /// The full URL of `request`.
    func url(for request: HubRequest) -> URL {
        var text = base.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        text += "/api/v1"
        for segment in request.path { text += "/" + Self.encode(segment, allowed: Self.segmentCharacters) }
        if !request.query.isEmpty {
            text += "?" + request.query.map { Self.encode($0.0) + "=" + Self.encode($0.1) }.joined(separator: "&")
        }
        return URL(string: text)!
    }

    /// Sends `request`; answers 2xx as they are and throws every other status as a `HubError`.
    func send(_ request: HubRequest, progress: (any URLSessionTaskDelegate)? = nil) async throws(HubError) -> HubResponse {
        var urlRequest = URLRequest(url: url(for: request))
        urlRequest.httpMethod = request.method
        urlRequest.setValue("application/json", forHTTPHeaderField: "Accept")
        urlRequest.setValue("starling-cli/\(Starling.configuration.version)", forHTTPHeaderField: "User-Agent")
        if let token { urlRequest.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        for (name, value) in request.headers { urlRequest.setValue(value, forHTTPHeaderField: name) }
        let data: Data
        let response: URLResponse
        do {
            switch request.body {
            case .none:
                (data, response) = try await Self.session.data(for: urlRequest)
            case .json(let value):
                urlRequest.setValue("application/json", forHTTPHeaderField: "Content-Type")
                (data, response) = try await Self.session.upload(for: urlRequest, from: Data(value.compactASCII.utf8))
            case .file(let path):
                urlRequest.setValue("application/octet-stream", forHTTPHeaderField: "Content-Type")
                (data, response) = try await Self.session.upload(
                    for: urlRequest, fromFile: URL(fileURLWithPath: path), delegate: progress)
            }
        } catch {
            throw connectionError(error)
        }
        guard let http = response as? HTTPURLResponse else {
            throw HubError(.local, "the answer from \(base.absoluteString) is not HTTP")
        }
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { headers[name.lowercased()] = value }
        }
        let answer = HubResponse(status: http.statusCode, headers: headers, body: Array(data))
        guard (200..<300).contains(answer.status) else {
            var error = HubError.answer(status: answer.status, body: answer.body)
            // The router's own 404 (no such route) says only "Not Found": name the route, which an
            // older hub may not have.
            if error.kind == .api(status: 404, code: "notFound") && error.message == "Not Found" {
                error.message =
                    "the hub has no route \(request.method) \(urlRequest.url?.path ?? "") (is it older than this CLI?)"
            }
            throw error
        }
        return answer
    }

    /// Sends `request` and parses the answer as JSON (`null` for an empty body, e.g. 204).
    func json(_ request: HubRequest) async throws(HubError) -> JSONValue {
        try await send(request).json()
    }

    /// The error for a request that got no answer, naming the URL.
    private func connectionError(_ error: any Error) -> HubError {
        let url = base.absoluteString
        let hint = "is the hub running there? Set --hub or STARLING_HUB_URL"
        guard let error = error as? URLError else {
            return HubError(.connection, "cannot reach the hub at \(url): \(error.localizedDescription)")
        }
        switch error.code {
        case .cannotConnectToHost:
            return HubError(.connection, "cannot connect to the hub at \(url): connection refused; \(hint)")
        case .cannotFindHost, .dnsLookupFailed:
            return HubError(.connection, "cannot find the host of the hub at \(url); \(hint)")
        case .timedOut:
            return HubError(.connection, "the hub at \(url) did not answer in time")
        case .fileDoesNotExist, .cannotOpenFile, .noPermissionsToReadFile:
            return HubError(.local, "cannot read the file to upload: \(error.localizedDescription)")
        default:
            return HubError(.connection, "cannot reach the hub at \(url): \(error.localizedDescription)")
        }
    }

    // MARK: - Percent-encoding

    /// Unreserved characters (RFC 3986): everything else in a query is encoded.
    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    /// Characters a path segment may carry as they are (`:` appears in device ids).
    private static let segmentCharacters = unreserved.union(CharacterSet(charactersIn: ":@"))

    private static func encode(_ text: String, allowed: CharacterSet = unreserved) -> String {
        text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

extension HubResponse {
    /// The body as JSON (`null` when empty, e.g. 204).
    func json() throws(HubError) -> JSONValue {
        if body.isEmpty { return .null }
        do {
            return try JSONValue.parse(body)
        } catch {
            throw HubError(.local, "the hub's answer (HTTP \(status)) is not JSON")
        }
    }
}

extension JSONValue {
    /// Decodes this value as `T`; a shape the client does not expect is a `HubError`.
    func decode<T: Decodable>(_ type: T.Type) throws(HubError) -> T {
        do {
            let encoder = JSONEncoder()
            return try JSONDecoder().decode(T.self, from: try encoder.encode(self))
        } catch {
            throw HubError(.local, "the hub's answer does not have the expected shape (\(T.self)): \(error)")
        }
    }
}
