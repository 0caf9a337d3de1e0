import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A loopback HTTP/1.1 server that records each request and answers from a handler: the hub as
/// the CLI sees it, for tests of what the CLI sends and how it prints answers. One connection at
/// a time, `Connection: close`; it serves on a thread of its own.
final class FakeHub: Sendable {
    /// A request as the server read it (path and query percent-decoded).
    struct Request: Sendable {
        var method: String
        var path: String
        var query: [(String, String)]
        var headers: [String: String]
        var body: [UInt8]

        /// The first query value named `name`.
        func query(_ name: String) -> String? { query.first { $0.0 == name }?.1 }

        /// The body as JSON.
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] }
    }

    /// An answer.
    struct Response: Sendable {
        var status: Int
        var body: [UInt8]
        var headers: [String: String]

        init(_ status: Int, _ text: String = "", headers: [String: String] = ["Content-Type": "application/json"]) {
            self.status = status
            self.body = Array(text.utf8)
            self.headers = headers
        }

        /// The hub's error body.
        static func error(_ status: Int, code: String, _ message: String) -> Response {
            Response(status, #"{"error": {"code": "\#(code)", "message": "\#(message)"}}"#)
        }
    }

    let port: Int
    private let socket: Int32
    private let recorded = Recorder()

    /// The requests, shared with the serving thread.
    private final class Recorder: Sendable {
        let requests = Mutex<[Request]>([])
    }

    /// Listens on a free loopback port and answers every request with `handler`.
    init(_ handler: @escaping @Sendable (Request) -> Response) throws {
        let listener = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        socket = listener
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) }
        }
        guard bound == 0, listen(listener, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        let recorded = recorded
        Thread {
            while true {
                let connection = accept(listener, nil, nil)
                if connection < 0 {
                    if errno == EINTR { continue }
                    // Closed here, not in `stop`: the descriptor's number must not be reused by
                    // another test's socket while this thread may still call accept on it.
                    close(listener)
                    return
                }
                if let request = Self.read(connection) {
                    recorded.requests.withLock { $0.append(request) }
                    Self.write(handler(request), to: connection)
                }
                close(connection)
            }
        }.start()
    }

    /// Stops listening: connections are refused from now on, and the serving thread ends.
    func stop() {
        shutdown(socket, Int32(SHUT_RDWR))
    }

    /// Every request so far.
    var requests: [Request] { recorded.requests.withLock { $0 } }

    /// The URL to pass as `--hub`.
    var url: String { "http://127.0.0.1:\(port)" }

    // MARK: - HTTP/1.1, just enough

    private static func read(_ connection: Int32) -> Request? {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        func fill() -> Bool {
            let n = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return false }
            buffer += chunk[0..<n]
            return true
        }
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var headerEnd: Int?
        while headerEnd == nil {
            guard fill() else { return nil }
            headerEnd = buffer.indices.dropLast(3).first { Array(buffer[$0..<$0 + 4]) == separator }
        }
        let head = String(decoding: buffer[..<headerEnd!], as: UTF8.self).components(separatedBy: "\r\n")
        var body = Array(buffer[(headerEnd! + 4)...])
        let parts = head[0].split(separator: " ")
        guard parts.count >= 2 else { return nil }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        if headers["expect"]?.lowercased() == "100-continue" { send(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8), connection) }
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            body = readChunked(body, connection)
        } else if let length = headers["content-length"].flatMap(Int.init) {
            buffer = body
            while buffer.count < length, fill() {}
            body = Array(buffer.prefix(length))
        }
        let target = String(parts[1])
        let pathPart = target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? target
        let queryPart = target.contains("?") ? String(target.split(separator: "?", maxSplits: 1)[1]) : ""
        let query: [(String, String)] = queryPart.split(separator: "&").map { pair in
            let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            return (kv[0], kv.count > 1 ? kv[1] : "")
        }
        return Request(
            method: String(parts[0]), path: pathPart.removingPercentEncoding ?? pathPart, query: query, headers: headers,
            body: body)
    }

    private static func readChunked(_ start: [UInt8], _ connection: Int32) -> [UInt8] {
        var data = start
        var chunk = [UInt8](repeating: 0, count: 65536)
        // Read until the last chunk's "0\r\n\r\n", then decode.
        while !(data.count >= 5 && Array(data.suffix(5)) == Array("0\r\n\r\n".utf8)) {
            let n = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            data += chunk[0..<n]
        }
        var body: [UInt8] = []
        var index = 0
        while let lineEnd = data[index...].indices.first(where: { data[$0] == 13 }) {
            guard let size = Int(String(decoding: data[index..<lineEnd], as: UTF8.self), radix: 16), size > 0 else { break }
            body += data[(lineEnd + 2)..<(lineEnd + 2 + size)]
            index = lineEnd + 2 + size + 2
        }
        return body
    }

    private static func write(_ response: Response, to connection: Int32) {
        var head = "HTTP/1.1 \(response.status) Status\r\nContent-Length: \(response.body.count)\r\nConnection: close\r\n"
        for (name, value) in response.headers { head += "\(name): \(value)\r\n" }
        send(Array((head + "\r\n").utf8) + response.body, connection)
    }

    private static func send(_ bytes: [UInt8], _ connection: Int32) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }
}
