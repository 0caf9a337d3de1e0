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
        var target = target
        return target.withUTF8 { match(method: method, path: $0) }
    }

    /// Splits the path into at most 6 segments without allocating, then matches them.
    private static func match(method: String, path bytes: UnsafeBufferPointer<UInt8>) -> Result<OIPRoute, Failure> {
        let end = bytes.firstIndex(of: UInt8(ascii: "?")) ?? bytes.count
        var segments: [Range<Int>] = []
        segments.reserveCapacity(6)
        var start = 0
        for i in 0...end where i == end || bytes[i] == UInt8(ascii: "/") {
            if i > start {
                guard segments.count < 6 else { return .failure(.notFound) }
                segments.append(start..<i)
            }
            start = i + 1
        }
        func equals(_ index: Int, _ word: StaticString) -> Bool {
            guard index < segments.count else { return false }
            let range = segments[index]
            guard range.count == word.utf8CodeUnitCount else { return false }
            for (k, i) in range.enumerated() where bytes[i] != word.utf8Start[k] { return false }
            return true
        }
        func text(_ index: Int) -> String? { percentDecoded(UnsafeBufferPointer(rebasing: bytes[segments[index]])) }

        if segments.count == 1 && equals(0, "metrics") { return expect("GET", method, .metrics) }
        guard equals(0, "v2") else { return .failure(.notFound) }
        switch segments.count {
        case 1:
            return expect("GET", method, .serverMetadata)
        case 3 where equals(1, "health") && equals(2, "live"):
            return expect("GET", method, .live)
        case 3 where equals(1, "health") && equals(2, "ready"):
            return expect("GET", method, .ready)
        default:
            break
        }
        guard segments.count >= 3, equals(1, "models"), let name = text(2) else { return .failure(.notFound) }
        var next = 3
        var version: String?
        if segments.count >= 5, equals(3, "versions") {
            guard let v = text(4) else { return .failure(.notFound) }
            version = v
            next = 5
        }
        switch segments.count - next {
        case 0: return expect("GET", method, .modelMetadata(name: name, version: version))
        case 1 where equals(next, "ready"): return expect("GET", method, .modelReady(name: name, version: version))
        case 1 where equals(next, "infer"): return expect("POST", method, .infer(name: name, version: version))
        case 1 where equals(next, "feedback"): return expect("POST", method, .feedback(name: name, version: version))
        default: return .failure(.notFound)
        }
    }

    private static func expect(_ allowed: String, _ method: String, _ route: OIPRoute) -> Result<OIPRoute, Failure> {
        method == allowed ? .success(route) : .failure(.methodNotAllowed(allowed: allowed))
    }

    /// A path segment with %XX escapes decoded; nil when an escape is malformed or not UTF-8.
    private static func percentDecoded(_ segment: UnsafeBufferPointer<UInt8>) -> String? {
        guard segment.contains(UInt8(ascii: "%")) else { return String(validating: segment, as: UTF8.self) }
        var bytes: [UInt8] = []
        var iterator = segment.makeIterator()
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
