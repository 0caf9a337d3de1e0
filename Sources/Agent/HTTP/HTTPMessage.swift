import NIOCore

/// A complete HTTP request as the responder sees it (the channel handler gathers the parts).
struct HTTPRequestMessage: Sendable {
    /// Method, e.g. "POST".
    var method: String
    /// Request target: path and optional query.
    var target: String
    /// The `Inference-Header-Content-Length` header, if present.
    var inferenceHeaderLength: String?
    /// The `Content-Encoding` header, if present.
    var contentEncoding: String?
    /// The body.
    var body: ByteBuffer
}

/// A complete HTTP response.
struct HTTPResponseMessage: Sendable {
    /// Status code.
    var status: Int
    /// Headers besides Content-Length, which the channel handler sets.
    var headers: [(String, String)]
    /// The body.
    var body: [UInt8]

    /// A JSON response.
    static func json(_ status: Int, _ body: [UInt8], headers: [(String, String)] = []) -> HTTPResponseMessage {
        HTTPResponseMessage(status: status, headers: [("Content-Type", "application/json")] + headers, body: body)
    }

    /// `{"error": "..."}` with the status of the error's code.
    static func error(_ error: InferenceError, headers: [(String, String)] = []) -> HTTPResponseMessage {
        var json = JSONWriter()
        json.raw("{")
        json.key("error")
        json.string(error.message)
        json.raw("}")
        return .json(error.code.httpStatus, json.bytes, headers: headers)
    }
}
