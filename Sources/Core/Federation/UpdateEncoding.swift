/// How a parameter vector (an update, or the global model sent down) travels on the wire.
public enum UpdateEncoding: Sendable, Equatable, Hashable {
    /// 4 bytes a value, exact.
    case float32
    /// IEEE half precision, 2 bytes a value.
    case float16
    /// One signed byte a value with a float scale per tensor (symmetric).
    case int8
    /// The largest-magnitude `fraction` of the values, as (index, value) pairs; what is left out
    /// is carried to the next round by the client (error feedback).
    case topK(fraction: Double)

    /// The name the protocol writes (`FLTask.encoding`, `FLUpdateHeader.encoding`).
    public var name: String {
        switch self {
        case .float32: "float32"
        case .float16: "float16"
        case .int8: "int8"
        case .topK: "topk"
        }
    }

    /// The encoding named `name`; `topk` needs `fraction`.
    public init(name: String, fraction: Double? = nil) throws(FederationError) {
        switch name {
        case "float32": self = .float32
        case "float16": self = .float16
        case "int8": self = .int8
        case "topk":
            guard let fraction, fraction > 0, fraction <= 1 else {
                throw FederationError(.invalidArgument, "topk encoding needs a fraction in (0, 1]")
            }
            self = .topK(fraction: fraction)
        default:
            throw FederationError(.invalidArgument, "unknown encoding '\(name)' (float32, float16, int8, topk)")
        }
    }
}
