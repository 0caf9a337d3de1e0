/// A model family chosen by name on the command line (`logreg`, `mlp:128,64`, `cnn:...`).
public enum Architecture: Sendable, Equatable, CustomStringConvertible {
    /// One dense layer (multinomial logistic regression for classification).
    case logisticRegression
    /// Dense + ReLU hidden layers of the given widths.
    case mlp(hidden: [Int])
    /// A convolutional network over NHWC images, described by `CNNLayer`s.
    case cnn(layers: [CNNLayer])

    /// One layer of a CNN description.
    public enum CNNLayer: Sendable, Equatable {
        /// Convolution + ReLU: filters, kernel, stride, "same" padding.
        case conv(filters: Int, kernel: Int, stride: Int, same: Bool)
        /// Depthwise convolution + ReLU.
        case depthwise(kernel: Int, stride: Int)
        /// Max pooling with a square window and equal stride.
        case maxPool(Int)
        /// Average pooling with a square window and equal stride.
        case avgPool(Int)
        /// Global average pooling.
        case globalAvgPool
        /// Batch normalisation (placed before the ReLU of a preceding convolution).
        case batchNorm
        /// Dense + ReLU (flattens first when needed).
        case dense(Int)

        /// True for layers that a following batch norm folds into.
        var isConvolution: Bool {
            switch self {
            case .conv, .depthwise: true
            default: false
            }
        }
    }

    /// The layers of the CNN in McMahan et al.'s FedAvg paper (without the final classifier).
    public static let fedAvgCNN: [CNNLayer] = [
        .conv(filters: 32, kernel: 5, stride: 1, same: true), .maxPool(2),
        .conv(filters: 64, kernel: 5, stride: 1, same: true), .maxPool(2), .dense(512),
    ]

    /// Parses `logreg`, `mlp:128,64` or `cnn:conv32k5,pool2,conv64k5,pool2,dense512` (also `cnn:fedavg`).
    public init(parsing text: String) throws(ModelError) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        let name = parts.first ?? ""
        let spec = parts.count > 1 ? parts[1] : ""
        switch name {
        case "logreg", "linear":
            guard spec.isEmpty else { throw ModelError(.invalidArgument, "'\(name)' takes no layer list") }
            self = .logisticRegression
        case "mlp":
            let widths = spec.split(separator: ",").map { Int($0.filter { $0 != " " }) }
            guard !widths.isEmpty, widths.allSatisfy({ ($0 ?? 0) > 0 }) else {
                throw ModelError(.invalidArgument, "mlp needs hidden sizes like 'mlp:128,64', got '\(text)'")
            }
            self = .mlp(hidden: widths.map { $0! })
        case "cnn":
            if spec.isEmpty || spec == "fedavg" {
                self = .cnn(layers: Self.fedAvgCNN)
            } else {
                self = .cnn(layers: try spec.split(separator: ",").map { (token) throws(ModelError) in
                    try Self.parseLayer(String(token))
                })
            }
        default:
            throw ModelError(.invalidArgument, "unknown architecture '\(text)'; use logreg, mlp:H1,H2,... or cnn:LAYERS")
        }
    }

    private static func parseLayer(_ token: String) throws(ModelError) -> CNNLayer {
        let bad = ModelError(
            .invalidArgument,
            "unknown cnn layer '\(token)'; use convFkK[sS][v], dwK[sS], poolK, avgK, gap, bn or denseN")
        func number(after prefix: String, in text: Substring) -> (Int, Substring)? {
            guard text.hasPrefix(prefix) else { return nil }
            let rest = text.dropFirst(prefix.count)
            let digits = rest.prefix { $0.isNumber }
            guard let value = Int(digits), value > 0 else { return nil }
            return (value, rest.dropFirst(digits.count))
        }
        let t = Substring(token)
        if token == "gap" { return .globalAvgPool }
        if token == "bn" { return .batchNorm }
        if let (n, rest) = number(after: "dense", in: t), rest.isEmpty { return .dense(n) }
        if let (k, rest) = number(after: "pool", in: t), rest.isEmpty { return .maxPool(k) }
        if let (k, rest) = number(after: "avg", in: t), rest.isEmpty { return .avgPool(k) }
        if let (k, rest) = number(after: "dw", in: t) {
            if rest.isEmpty { return .depthwise(kernel: k, stride: 1) }
            if let (s, tail) = number(after: "s", in: rest), tail.isEmpty { return .depthwise(kernel: k, stride: s) }
            throw bad
        }
        if let (f, rest) = number(after: "conv", in: t), let (k, tail) = number(after: "k", in: rest) {
            var stride = 1
            var remainder = tail
            if let (s, after) = number(after: "s", in: remainder) {
                stride = s
                remainder = after
            }
            if remainder.isEmpty { return .conv(filters: f, kernel: k, stride: stride, same: true) }
            if remainder == "v" { return .conv(filters: f, kernel: k, stride: stride, same: false) }
        }
        throw bad
    }

    public var description: String {
        switch self {
        case .logisticRegression: return "logreg"
        case .mlp(let hidden): return "mlp:" + hidden.map(String.init).joined(separator: ",")
        case .cnn(let layers):
            return "cnn:"
                + layers.map { layer -> String in
                    switch layer {
                    case .conv(let f, let k, let s, let same): "conv\(f)k\(k)" + (s > 1 ? "s\(s)" : "") + (same ? "" : "v")
                    case .depthwise(let k, let s): "dw\(k)" + (s > 1 ? "s\(s)" : "")
                    case .maxPool(let k): "pool\(k)"
                    case .avgPool(let k): "avg\(k)"
                    case .globalAvgPool: "gap"
                    case .batchNorm: "bn"
                    case .dense(let n): "dense\(n)"
                    }
                }.joined(separator: ",")
        }
    }
}
