/// Builds freshly initialised graphs for an `Architecture`.
public struct ModelBuilder: Sendable {
    /// Name of the graph input.
    public static let inputName = "input"
    /// Name of the classifier output (softmax probabilities).
    public static let probabilitiesName = "probabilities"
    /// Name of the regression output.
    public static let predictionName = "prediction"
    /// Name of the hashed-token input of text models.
    public static let tokensName = "tokens"

    /// Hashed text tokens read by an embedding bag: `length` ids per sample below `buckets`,
    /// averaged into a `dimension`-wide vector.
    public struct TokenInput: Sendable, Equatable {
        /// Hash buckets (rows of the embedding table).
        public var buckets: Int
        /// Token ids per sample (−1 pads).
        public var length: Int
        /// Width of the embedding.
        public var dimension: Int

        /// A token input.
        public init(buckets: Int, length: Int, dimension: Int) {
            self.buckets = buckets
            self.length = length
            self.dimension = dimension
        }
    }

    private var random: RandomSource
    private var nodes: [Node] = []
    private var initializers: [String: Tensor] = [:]
    private var frozen: Set<String> = []
    private var layerIndex = 0

    private init(seed: UInt64) {
        random = RandomSource(seed: seed)
    }

    /// A graph for `architecture` reading one sample of `inputShape` (without the batch
    /// dimension) and producing `outputs` values: softmax probabilities when `classifier`,
    /// else linear predictions. Weights are Glorot-uniform, biases zero.
    /// With `tokens`, an MLP or logistic regression also reads hashed text through a mean
    /// embedding bag, concatenated with the numeric input (`inputShape` may then be empty).
    public static func build(
        _ architecture: Architecture, inputShape: [Int], outputs: Int, classifier: Bool = true, seed: UInt64 = 1,
        tokens: TokenInput? = nil
    ) throws(ModelError) -> Graph {
        guard outputs >= 1 else { throw ModelError(.invalidArgument, "a model needs at least one output") }
        guard (!inputShape.isEmpty || tokens != nil), inputShape.allSatisfy({ $0 > 0 }) else {
            throw ModelError(.invalidArgument, "invalid input shape \(inputShape)")
        }
        if let tokens, tokens.buckets < 1 || tokens.length < 1 || tokens.dimension < 1 {
            throw ModelError(.invalidArgument, "token buckets, length and embedding size must be positive")
        }
        var builder = ModelBuilder(seed: seed)
        var value = inputName
        var shape = inputShape
        var inputs = inputShape.isEmpty ? [] : [ValueSpec(name: inputName, shape: [-1] + inputShape)]
        switch architecture {
        case .logisticRegression, .mlp:
            if shape.count > 1 {
                value = builder.add(.flatten, [value], "flatten")
                shape = [shape.reduce(1, *)]
            }
            if let tokens {
                inputs.append(ValueSpec(name: tokensName, shape: [-1, tokens.length]))
                let bag = builder.embedding(tokens)
                if inputShape.isEmpty {
                    (value, shape) = (bag, [tokens.dimension])
                } else {
                    value = builder.add(.concat, [value, bag], "concat")
                    shape = [shape[0] + tokens.dimension]
                }
            }
            if case .mlp(let hidden) = architecture {
                for width in hidden {
                    value = builder.dense(value, from: shape[0], to: width, relu: true)
                    shape = [width]
                }
            }
        case .cnn(let layers):
            guard tokens == nil else { throw ModelError(.invalidArgument, "text inputs need an mlp or logreg architecture") }
            guard shape.count == 3 else {
                throw ModelError(.invalidArgument, "cnn needs image input [height, width, channels], got \(inputShape)")
            }
            for (i, layer) in layers.enumerated() {
                // conv → bn → relu, so that batch norm can fold into the convolution.
                let normalizedNext = i + 1 < layers.count && layers[i + 1] == .batchNorm
                let afterConv = i > 0 && layer == .batchNorm && layers[i - 1].isConvolution
                (value, shape) = try builder.cnnLayer(layer, value, shape, relu: !normalizedNext || !layer.isConvolution)
                if afterConv { value = builder.add(.relu, [value], "relu") }
            }
            if shape.count > 1 {
                value = builder.add(.flatten, [value], "flatten")
                shape = [shape.reduce(1, *)]
            }
        }
        value = builder.dense(value, from: shape[0], to: outputs, relu: false)
        let output = classifier ? probabilitiesName : predictionName
        if classifier {
            builder.nodes.append(Node(name: "softmax", op: .softmax, inputs: [value], output: output))
        } else {
            builder.nodes[builder.nodes.count - 1].output = output
        }
        let graph = Graph(
            inputs: inputs, outputs: [output], nodes: builder.nodes,
            initializers: builder.initializers, frozen: builder.frozen)
        try graph.validate()
        return graph
    }

    mutating func add(_ op: Op, _ inputs: [String], _ base: String) -> String {
        layerIndex += 1
        let name = "\(base)\(layerIndex)"
        nodes.append(Node(name: name, op: op, inputs: inputs, output: name))
        return name
    }

    private mutating func glorot(_ shape: [Int], fanIn: Int, fanOut: Int) -> Tensor {
        let limit = (6 / Float(fanIn + fanOut)).squareRoot()
        return Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in random.uniform(-limit, limit) })
    }

    private mutating func embedding(_ tokens: TokenInput) -> String {
        let name = "embedding\(layerIndex + 1)"
        let limit = (3 / Float(tokens.dimension)).squareRoot()
        initializers[name + ".table"] = Tensor(
            shape: [tokens.buckets, tokens.dimension],
            scalars: (0..<(tokens.buckets * tokens.dimension)).map { _ in random.uniform(-limit, limit) })
        return add(.embeddingBag(mode: .mean), [Self.tokensName, name + ".table"], "embedding")
    }

    private mutating func dense(_ x: String, from inputs: Int, to outputs: Int, relu: Bool) -> String {
        let name = "dense\(layerIndex + 1)"
        initializers[name + ".weight"] = glorot([outputs, inputs], fanIn: inputs, fanOut: outputs)
        initializers[name + ".bias"] = Tensor(shape: [outputs])
        let y = add(.dense, [x, name + ".weight", name + ".bias"], "dense")
        return relu ? add(.relu, [y], "relu") : y
    }

    private mutating func cnnLayer(
        _ layer: Architecture.CNNLayer, _ x: String, _ s: [Int], relu: Bool
    ) throws(ModelError) -> (String, [Int]) {
        func pooled(_ window: Window2D) throws(ModelError) -> [Int] {
            let (h, w) = window.outputSize(height: s[0], width: s[1])
            guard h > 0, w > 0 else { throw ModelError(.invalidArgument, "layer \(layer) shrinks \(s) to nothing") }
            return [h, w]
        }
        switch layer {
        case .conv(let filters, let k, let stride, let same):
            guard s.count == 3 else { throw ModelError(.invalidArgument, "conv after a dense layer") }
            let window = Window2D.square(k, stride: stride, same: same)
            let name = "conv\(layerIndex + 1)"
            initializers[name + ".weight"] = glorot([filters, k, k, s[2]], fanIn: k * k * s[2], fanOut: k * k * filters)
            initializers[name + ".bias"] = Tensor(shape: [filters])
            let y = add(.conv2d(window: window, groups: 1), [x, name + ".weight", name + ".bias"], "conv")
            return (relu ? add(.relu, [y], "relu") : y, try pooled(window) + [filters])
        case .depthwise(let k, let stride):
            guard s.count == 3 else { throw ModelError(.invalidArgument, "depthwise conv after a dense layer") }
            let window = Window2D.square(k, stride: stride, same: true)
            let name = "dwconv\(layerIndex + 1)"
            initializers[name + ".weight"] = glorot([k, k, s[2]], fanIn: k * k, fanOut: k * k)
            initializers[name + ".bias"] = Tensor(shape: [s[2]])
            let y = add(.depthwiseConv2d(window: window, multiplier: 1), [x, name + ".weight", name + ".bias"], "dwconv")
            return (relu ? add(.relu, [y], "relu") : y, try pooled(window) + [s[2]])
        case .maxPool(let k), .avgPool(let k):
            guard s.count == 3 else { throw ModelError(.invalidArgument, "pooling after a dense layer") }
            let window = Window2D.square(k, stride: k)
            let op: Op = if case .maxPool = layer { .maxPool(window: window) } else { .avgPool(window: window, countIncludePad: false) }
            return (add(op, [x], "pool"), try pooled(window) + [s[2]])
        case .globalAvgPool:
            guard s.count == 3 else { throw ModelError(.invalidArgument, "global pooling after a dense layer") }
            return (add(.globalAvgPool, [x], "gap"), [s[2]])
        case .batchNorm:
            let c = s.last!
            let name = "bn\(layerIndex + 1)"
            initializers[name + ".gamma"] = Tensor(shape: [c], repeating: 1)
            initializers[name + ".beta"] = Tensor(shape: [c])
            initializers[name + ".mean"] = Tensor(shape: [c])
            initializers[name + ".var"] = Tensor(shape: [c], repeating: 1)
            frozen.formUnion([name + ".mean", name + ".var"])
            let inputs = [x] + ["gamma", "beta", "mean", "var"].map { name + "." + $0 }
            return (add(.batchNorm(epsilon: 1e-5, momentum: 0.9), inputs, "bn"), s)
        case .dense(let width):
            var value = x
            var features = s[0]
            if s.count > 1 {
                value = add(.flatten, [x], "flatten")
                features = s.reduce(1, *)
            }
            return (dense(value, from: features, to: width, relu: true), [width])
        }
    }
}
