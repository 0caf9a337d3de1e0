/// The routes of the inference API, parsed from a method and a request target.
enum OIPRoute: Equatable {
    case live
    case ready
    case serverMetadata
    case metrics
    case modelMetadata(name: String, version: String?)
    case modelReady(name: String, version: String?)
    case infer(name: String, version: String?)
    case feedback(name: String, version: String?)

    /// Why no route matched.
    enum Failure: Error, Equatable {
        /// No such path.
        case notFound
        /// The path exists for these methods only.
        case methodNotAllowed(allowed: String)
    }

    /// The route template, a low-cardinality metric label.
    var template: String {
        switch self {
        case .live: "health_live"
        case .ready: "health_ready"
        case .serverMetadata: "server_metadata"
        case .metrics: "metrics"
        case .modelMetadata: "model_metadata"
        case .modelReady: "model_ready"
        case .infer: "infer"
        case .feedback: "feedback"
        }
    }

    /// Matches `method` and `target` (path and optional query, which is ignored).
    static func match(method: String, target: String) -> Result<OIPRoute, Failure> {
        // Substrings, not Strings: no allocation per segment on the hot path.
        let path = target.utf8.firstIndex(of: UInt8(ascii: "?")).map { target[..<$0] } ?? target[...]
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        guard let first = segments.first else { return .failure(.notFound) }
        if segments.count == 1 && first == "metrics" { return expect("GET", method, .metrics) }
        guard first == "v2" else { return .failure(.notFound) }
        switch segments.count {
        case 1:
            return expect("GET", method, .serverMetadata)
        case 3 where segments[1] == "health" && segments[2] == "live":
            return expect("GET", method, .live)
        case 3 where segments[1] == "health" && segments[2] == "ready":
            return expect("GET", method, .ready)
        default:
            break
        }
        guard segments.count >= 3, segments[1] == "models", let name = percentDecoded(segments[2]) else {
            return .failure(.notFound)
        }
        var rest = segments[3...]
        var version: String?
        if rest.count >= 2, rest.first == "versions" {
            guard let v = percentDecoded(rest[rest.startIndex + 1]) else { return .failure(.notFound) }
            version = v
            rest = rest.dropFirst(2)
        }
        switch (rest.count, rest.first) {
        case (0, _): return expect("GET", method, .modelMetadata(name: name, version: version))
        case (1, "ready"?): return expect("GET", method, .modelReady(name: name, version: version))
        case (1, "infer"?): return expect("POST", method, .infer(name: name, version: version))
        case (1, "feedback"?): return expect("POST", method, .feedback(name: name, version: version))
        default: return .failure(.notFound)
        }
    }

    private static func expect(_ allowed: String, _ method: String, _ route: OIPRoute) -> Result<OIPRoute, Failure> {
        method == allowed ? .success(route) : .failure(.methodNotAllowed(allowed: allowed))
    }

    /// A path segment with %XX escapes decoded; nil when an escape is malformed or not UTF-8.
    private static func percentDecoded(_ segment: Substring) -> String? {
        guard segment.utf8.contains(UInt8(ascii: "%")) else { return String(segment) }
        var bytes: [UInt8] = []
        var iterator = segment.utf8.makeIterator()
        while let b = iterator.next() {
            guard b == UInt8(ascii: "%") else {
                bytes.append(b)
                continue
            }
            guard let h = iterator.next(), let l = iterator.next(), let hi = hexValue(h), let lo = hexValue(l) else { return nil }
            bytes.append(hi << 4 | lo)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: b - 0x30
        case 0x41...0x46: b - 0x41 + 10
        case 0x61...0x66: b - 0x61 + 10
        default: nil
        }
    }
}
