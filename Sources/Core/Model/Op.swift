/// A 2-D sliding window over an NHWC tensor: kernel, stride, dilation and padding.
public struct Window2D: Codable, Sendable, Equatable {
    /// Kernel height and width.
    public var kernel: [Int]
    /// Vertical and horizontal stride.
    public var stride: [Int]
    /// Vertical and horizontal dilation.
    public var dilation: [Int]
    /// Padding as [top, left, bottom, right].
    public var padding: [Int]

    /// A window; `padding` is [top, left, bottom, right].
    public init(kernel: [Int], stride: [Int] = [1, 1], dilation: [Int] = [1, 1], padding: [Int] = [0, 0, 0, 0]) {
        self.kernel = kernel
        self.stride = stride
        self.dilation = dilation
        self.padding = padding
    }

    /// A square window with "same"-style symmetric padding for odd kernels when `same` is true.
    public static func square(_ k: Int, stride: Int = 1, same: Bool = false) -> Window2D {
        let total = same ? k - 1 : 0
        let before = total / 2
        return Window2D(
            kernel: [k, k], stride: [stride, stride], padding: [before, before, total - before, total - before])
    }

    /// Output height and width for an input of `height` x `width` (floor mode, as ONNX).
    public func outputSize(height: Int, width: Int) -> (Int, Int) {
        let effH = dilation[0] * (kernel[0] - 1) + 1
        let effW = dilation[1] * (kernel[1] - 1) + 1
        let h = (height + padding[0] + padding[2] - effH) / stride[0] + 1
        let w = (width + padding[1] + padding[3] - effW) / stride[1] + 1
        return (h, w)
    }

    /// Checks the window is well formed, naming the node on failure.
    func validate(node: String) throws(ModelError) {
        let limit = 1 << 20
        guard kernel.count == 2, stride.count == 2, dilation.count == 2, padding.count == 4,
            kernel.allSatisfy({ (1...limit).contains($0) }), stride.allSatisfy({ (1...limit).contains($0) }),
            dilation.allSatisfy({ (1...limit).contains($0) }), padding.allSatisfy({ (0...limit).contains($0) })
        else { throw ModelError(.invalidGraph, "node '\(node)' has a malformed window \(self)") }
    }
}

/// How an embedding bag combines the rows of one bag.
public enum BagMode: String, Codable, Sendable {
    case sum, mean
}

/// The operations a graph node can perform. Inputs are listed per case; weights and biases are
/// graph initializers named among the node's inputs, so gradients reach them like any value.
public enum Op: Sendable, Equatable {
    /// y = x · Wᵀ + b; inputs x [N, in], weight [out, in], optional bias [out].
    case dense
    /// NHWC convolution; inputs x, weight [out, kh, kw, in/groups], optional bias [out].
    case conv2d(window: Window2D, groups: Int)
    /// Depthwise convolution; inputs x, weight [kh, kw, channels*multiplier], optional bias.
    case depthwiseConv2d(window: Window2D, multiplier: Int)
    /// Max pooling (padding is ignored).
    case maxPool(window: Window2D)
    /// Average pooling.
    case avgPool(window: Window2D, countIncludePad: Bool)
    /// Mean over height and width: [N, H, W, C] → [N, C].
    case globalAvgPool
    /// [N, ...] → [N, product of the rest].
    case flatten
    /// Row-major reshape; one dimension may be -1, 0 copies the input dimension.
    case reshape(shape: [Int])
    /// Element-wise sum with numpy broadcasting (residual connections, biases).
    case add
    /// max(x, 0)
    case relu
    /// min(max(x, 0), 6)
    case relu6
    /// 1 / (1 + e^-x)
    case sigmoid
    /// tanh(x)
    case tanh
    /// Softmax over the last axis.
    case softmax
    /// Per-channel (last axis) normalisation; inputs x, gamma, beta, running mean, running var.
    case batchNorm(epsilon: Float, momentum: Float)
    /// Sum or mean of table rows; inputs indices [N, L] (−1 pads), table [buckets, dim].
    case embeddingBag(mode: BagMode)
    /// Concatenation along the last axis.
    case concat

    /// The stable name used in model files and messages.
    public var kind: String {
        switch self {
        case .dense: "dense"
        case .conv2d: "conv2d"
        case .depthwiseConv2d: "depthwise_conv2d"
        case .maxPool: "max_pool"
        case .avgPool: "avg_pool"
        case .globalAvgPool: "global_avg_pool"
        case .flatten: "flatten"
        case .reshape: "reshape"
        case .add: "add"
        case .relu: "relu"
        case .relu6: "relu6"
        case .sigmoid: "sigmoid"
        case .tanh: "tanh"
        case .softmax: "softmax"
        case .batchNorm: "batch_norm"
        case .embeddingBag: "embedding_bag"
        case .concat: "concat"
        }
    }

    /// True for element-wise activations that map each value on its own.
    public var isActivation: Bool {
        switch self {
        case .relu, .relu6, .sigmoid, .tanh: true
        default: false
        }
    }
}

// MARK: - Codable

extension Op: Codable {
    private enum Key: String, CodingKey {
        case kind, window, groups, multiplier, countIncludePad, shape, epsilon, momentum, mode
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let kind = try c.decode(String.self, forKey: .kind)
        switch kind {
        case "dense": self = .dense
        case "conv2d":
            self = .conv2d(window: try c.decode(Window2D.self, forKey: .window), groups: try c.decode(Int.self, forKey: .groups))
        case "depthwise_conv2d":
            self = .depthwiseConv2d(
                window: try c.decode(Window2D.self, forKey: .window), multiplier: try c.decode(Int.self, forKey: .multiplier))
        case "max_pool": self = .maxPool(window: try c.decode(Window2D.self, forKey: .window))
        case "avg_pool":
            self = .avgPool(
                window: try c.decode(Window2D.self, forKey: .window),
                countIncludePad: try c.decode(Bool.self, forKey: .countIncludePad))
        case "global_avg_pool": self = .globalAvgPool
        case "flatten": self = .flatten
        case "reshape": self = .reshape(shape: try c.decode([Int].self, forKey: .shape))
        case "add": self = .add
        case "relu": self = .relu
        case "relu6": self = .relu6
        case "sigmoid": self = .sigmoid
        case "tanh": self = .tanh
        case "softmax": self = .softmax
        case "batch_norm":
            self = .batchNorm(epsilon: try c.decode(Float.self, forKey: .epsilon), momentum: try c.decode(Float.self, forKey: .momentum))
        case "embedding_bag": self = .embeddingBag(mode: try c.decode(BagMode.self, forKey: .mode))
        case "concat": self = .concat
        default:
            throw ModelError(.unsupportedOp, "this reader does not know the op '\(kind)'; upgrade starling to load this model")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(kind, forKey: .kind)
        switch self {
        case .conv2d(let window, let groups):
            try c.encode(window, forKey: .window)
            try c.encode(groups, forKey: .groups)
        case .depthwiseConv2d(let window, let multiplier):
            try c.encode(window, forKey: .window)
            try c.encode(multiplier, forKey: .multiplier)
        case .maxPool(let window):
            try c.encode(window, forKey: .window)
        case .avgPool(let window, let countIncludePad):
            try c.encode(window, forKey: .window)
            try c.encode(countIncludePad, forKey: .countIncludePad)
        case .reshape(let shape):
            try c.encode(shape, forKey: .shape)
        case .batchNorm(let epsilon, let momentum):
            try c.encode(epsilon, forKey: .epsilon)
            try c.encode(momentum, forKey: .momentum)
        case .embeddingBag(let mode):
            try c.encode(mode, forKey: .mode)
        case .dense, .globalAvgPool, .flatten, .add, .relu, .relu6, .sigmoid, .tanh, .softmax, .concat:
            break
        }
    }
}
