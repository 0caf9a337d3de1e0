import Core
import Foundation
import Hummingbird

/// JSON in and out of the API: sorted keys, bodies read with a size limit, an empty body
/// allowed where every member is optional.
enum JSONBody {
    /// The largest JSON request body read.
    static let maxBytes = 1 << 20

    /// A response with `value` as JSON.
    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The request body decoded as `T`; `empty` (when given) stands for an absent body.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, empty: T? = nil) async throws -> T {
        var request = request
        let buffer = try await request.collectBody(upTo: maxBytes)
        if buffer.readableBytes == 0, let empty { return empty }
        guard buffer.readableBytes > 0 else { throw APIError.invalidRequest("this route needs a JSON body") }
        return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
    }
}

/// Query and path parameters, parsed with errors that name the parameter.
extension Request {
    /// The query parameter `name`, if present.
    func query(_ name: String) -> String? {
        uri.queryParameters.get(name)
    }

    /// Every value of the query parameter `name`.
    func queryAll(_ name: String) -> [String] {
        uri.queryParameters.getAll(name)
    }

    /// `?limit=&cursor=` as a page request.
    func pageRequest() throws -> PageRequest {
        var page = PageRequest()
        if let text = query("limit") {
            guard let limit = Int(text), (1...PageRequest.maxLimit).contains(limit) else {
                throw APIError.invalidRequest(
                    "limit '\(text.prefix(20))' must be a whole number within 1...\(PageRequest.maxLimit)")
            }
            page.limit = limit
        }
        page.cursor = query("cursor")
        return page
    }
}

extension HubRequestContext {
    /// The path parameter `name` (always present on the routes that declare it).
    func path(_ name: String) throws -> String {
        guard let value = parameters.get(name) else { throw APIError.invalidRequest("the path lacks {\(name)}") }
        return value
    }

    /// The path parameter `version` as a semantic version.
    func version(_ name: String = "version") throws -> SemanticVersion {
        try Self.semanticVersion(try path(name), what: name)
    }

    /// `text` as a semantic version, or `invalidRequest` naming `what`.
    static func semanticVersion(_ text: String, what: String) throws -> SemanticVersion {
        guard let version = SemanticVersion(text) else {
            throw APIError.invalidRequest("\(what) '\(text.prefix(80))' is not a semantic version (MAJOR.MINOR.PATCH)")
        }
        return version
    }
}
