/// Runs a graph in float32: inference, and training forward/backward passes.
public struct FloatRunner: Sendable {
    /// The graph being run.
    public let graph: Graph

    /// A runner for `graph`, which must validate.
    public init(graph: Graph) throws(ModelError) {
        try graph.validate()
        self.graph = graph
    }

    /// A runner for a graph the caller already validated (the training loop's hot path).
    init(unvalidated graph: Graph) {
        self.graph = graph
    }

    /// What a training forward pass keeps for the backward pass.
    public struct Pass: Sendable {
        /// Every value computed (inputs, activations, initializers are not copied).
        public var values: [String: Tensor]
        /// Max-pool argmax per node.
        var argmax: [String: [Int32]] = [:]
        /// Batch-norm normalised input and batch variance per node.
        var batchNorm: [String: (xhat: Tensor, variance: [Float])] = [:]
        /// Running statistics updated by batch norm in training mode.
        public var updatedStatistics: [String: Tensor] = [:]
    }

    /// Runs inference and returns the graph outputs in order.
    public func run(_ feeds: [String: Tensor]) throws(ModelError) -> [Tensor] {
        let pass = try forward(feeds, training: false)
        return graph.outputs.map { pass.values[$0]! }
    }

    /// Runs every node. In training mode batch norm uses batch statistics and reports updated
    /// running statistics in the pass.
    public func forward(_ feeds: [String: Tensor], training: Bool, stopAfter: Set<String> = []) throws(ModelError) -> Pass {
        var pass = Pass(values: [:])
        for spec in graph.inputs {
            guard let tensor = feeds[spec.name] else {
                throw ModelError(.invalidInput, "missing input '\(spec.name)'")
            }
            guard tensor.rank == spec.shape.count,
                zip(tensor.shape, spec.shape).allSatisfy({ $1 < 0 || $0 == $1 })
            else {
                throw ModelError(
                    .shapeMismatch, "input '\(spec.name)' has shape \(tensor.shape), the model expects \(spec.shape)")
            }
            guard tensor.isFinite else { throw ModelError(.nonFinite, "input '\(spec.name)' holds NaN or infinity") }
            pass.values[spec.name] = tensor
        }
        var remaining = Set(stopAfter)
        for node in graph.nodes {
            let inputs = try node.inputs.map { (name) throws(ModelError) -> Tensor in
                if let v = pass.values[name] ?? graph.initializers[name] { return v }
                throw ModelError(.invalidGraph, "node '\(node.name)' reads missing value '\(name)'")
            }
            pass.values[node.output] = try Self.forwardNode(node, inputs, training: training, pass: &pass)
            remaining.remove(node.output)
            if !stopAfter.isEmpty && remaining.isEmpty { break }
        }
        return pass
    }

    /// Evaluates one node in inference mode.
    static func infer(_ node: Node, _ inputs: [Tensor]) throws(ModelError) -> Tensor {
        var pass = Pass(values: [:])
        return try forwardNode(node, inputs, training: false, pass: &pass)
    }

    private static func forwardNode(_ node: Node, _ x: [Tensor], training: Bool, pass: inout Pass) throws(ModelError) -> Tensor {
        switch node.op {
        case .dense:
            return FloatOps.dense(x[0], x[1], x.count > 2 ? x[2] : nil)
        case .conv2d(let window, let groups):
            return FloatOps.conv2d(x[0], x[1], x.count > 2 ? x[2] : nil, window: window, groups: groups)
        case .depthwiseConv2d(let window, let multiplier):
            return FloatOps.depthwise(x[0], x[1], x.count > 2 ? x[2] : nil, window: window, multiplier: multiplier)
        case .maxPool(let window):
            let (y, argmax) = FloatOps.maxPool(x[0], window: window)
            if training { pass.argmax[node.name] = argmax }
            return y
        case .avgPool(let window, let countIncludePad):
            return FloatOps.avgPool(x[0], window: window, countIncludePad: countIncludePad)
        case .globalAvgPool:
            return FloatOps.globalAvgPool(x[0])
        case .flatten:
            return x[0].reshaped([x[0].shape[0], x[0].count / max(x[0].shape[0], 1)])
        case .reshape:
            let shape = try Graph.outputShape(of: node, inputs: [x[0].shape])
            return x[0].reshaped(shape)
        case .add:
            return FloatOps.add(x[0], x[1])
        case .relu, .relu6, .sigmoid, .tanh:
            return FloatOps.activation(node.op, x[0])
        case .softmax:
            return FloatOps.softmax(x[0])
        case .batchNorm(let epsilon, let momentum):
            if !training {
                let (scale, shift) = FloatOps.batchNormAffine(
                    gamma: x[1], beta: x[2], mean: x[3], variance: x[4], epsilon: epsilon)
                return FloatOps.channelAffine(x[0], scale: scale, shift: shift)
            }
            let (y, xhat, mean, variance) = FloatOps.batchNormTrain(x[0], gamma: x[1], beta: x[2], epsilon: epsilon)
            pass.batchNorm[node.name] = (xhat, variance)
            let rows = Float(x[0].count / max(x[1].count, 1))
            let unbiased = rows > 1 ? rows / (rows - 1) : 1
            var runMean = x[3]
            var runVar = x[4]
            for j in 0..<runMean.count {
                runMean.scalars[j] = momentum * runMean.scalars[j] + (1 - momentum) * mean[j]
                runVar.scalars[j] = momentum * runVar.scalars[j] + (1 - momentum) * variance[j] * unbiased
            }
            pass.updatedStatistics[node.inputs[3]] = runMean
            pass.updatedStatistics[node.inputs[4]] = runVar
            return y
        case .embeddingBag(let mode):
            return FloatOps.embeddingBag(x[0], table: x[1], mode: mode)
        case .concat:
            return FloatOps.concat(x)
        }
    }
}
