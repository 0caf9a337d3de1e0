import Foundation

/// Everything that can go wrong talking to the hub, rendered as one line for people.
struct HubError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure.
    enum Kind: Sendable, Equatable {
        /// The hub answered with its error body.
        case api(status: Int, code: String)
        /// The hub answered with something that is not its error body (a proxy, another server).
        case unexpected(status: Int)
        /// No answer: refused, unreachable, timed out.
        case connection
        /// Something on this side: a file that cannot be read or written, a body that does not decode.
        case local
    }

    var kind: Kind
    /// A sentence a person can act on.
    var message: String

    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The line printed on standard error: `error: <message> (<code>, HTTP <status>)`.
    var description: String {
        switch kind {
        case .api(let status, let code): "error: \(message) (\(code), HTTP \(status))"
        case .unexpected(let status): "error: \(message) (HTTP \(status))"
        case .connection, .local: "error: \(message)"
        }
    }

    /// The error for a non-2xx answer: the hub's `{"error": {"code", "message"}}` when the body is
    /// that, otherwise the start of whatever came.
    static func answer(status: Int, body: [UInt8]) -> HubError {
        if let value = try? JSONValue.parse(body), let code = value["error"]?["code"]?.string,
            let message = value["error"]?["message"]?.string
        {
            return HubError(.api(status: status, code: code), message)
        }
        let text = String(decoding: body.prefix(200), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return HubError(
            .unexpected(status: status), text.isEmpty ? "the hub answered without an error body" : "the hub answered: \(text)")
    }
}
