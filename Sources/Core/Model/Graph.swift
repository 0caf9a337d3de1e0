/// The name and shape of a graph input; -1 marks the batch (or any) dimension.
public struct ValueSpec: Codable, Sendable, Equatable {
    /// The value's name.
    public var name: String
    /// Dimensions, -1 where any size is accepted.
    public var shape: [Int]

    /// A spec for `name` with `shape`.
    public init(name: String, shape: [Int]) {
        self.name = name
        self.shape = shape
    }
}

/// One operation of a graph, reading named values and writing one.
public struct Node: Codable, Sendable, Equatable {
    /// Unique node name, used in error messages and parameter names.
    public var name: String
    /// What the node computes.
    public var op: Op
    /// Names of the values it reads (graph inputs, earlier outputs or initializers).
    public var inputs: [String]
    /// Name of the value it writes.
    public var output: String

    /// A node `name` computing `op` from `inputs` into `output`.
    public init(name: String, op: Op, inputs: [String], output: String) {
        self.name = name
        self.op = op
        self.inputs = inputs
        self.output = output
    }
}

/// A dataflow graph of nodes in topological order, with its constant tensors (initializers).
public struct Graph: Sendable, Equatable {
    /// The values callers feed.
    public var inputs: [ValueSpec]
    /// The values the graph produces, in order.
    public var outputs: [String]
    /// Nodes in an order where every value is written before it is read.
    public var nodes: [Node]
    /// Weights, biases and other constants by name.
    public var initializers: [String: Tensor]
    /// Initializers that training leaves alone (running statistics, constants).
    public var frozen: Set<String>

    /// A graph; call `validate()` before running it.
    public init(
        inputs: [ValueSpec], outputs: [String], nodes: [Node], initializers: [String: Tensor] = [:],
        frozen: Set<String> = []
    ) {
        self.inputs = inputs
        self.outputs = outputs
        self.nodes = nodes
        self.initializers = initializers
        self.frozen = frozen
    }

    /// Trainable initializers in the order nodes first read them (a stable order for
    /// optimizers, checkpoints and federated updates).
    public var trainableParameters: [String] {
        var seen = Set<String>()
        var names: [String] = []
        for node in nodes {
            for input in node.inputs where initializers[input] != nil && !frozen.contains(input) {
                if seen.insert(input).inserted { names.append(input) }
            }
        }
        return names
    }

    /// Total number of trainable scalars.
    public var parameterCount: Int {
        trainableParameters.reduce(0) { $0 + (initializers[$1]?.count ?? 0) }
    }

    /// Checks names, ordering, arities and shapes; throws an error naming the first problem.
    public func validate() throws(ModelError) {
        guard !inputs.isEmpty else { throw ModelError(.invalidGraph, "the graph has no inputs") }
        guard !outputs.isEmpty else { throw ModelError(.invalidGraph, "the graph has no outputs") }
        var defined = Set(initializers.keys)
        var nodeNames = Set<String>()
        for input in inputs {
            guard defined.insert(input.name).inserted else {
                throw ModelError(.invalidGraph, "value '\(input.name)' is defined twice")
            }
        }
        for node in nodes {
            guard nodeNames.insert(node.name).inserted else {
                throw ModelError(.invalidGraph, "node name '\(node.name)' is used twice")
            }
            for input in node.inputs where !defined.contains(input) {
                throw ModelError(.invalidGraph, "node '\(node.name)' reads '\(input)' before anything writes it")
            }
            guard defined.insert(node.output).inserted else {
                throw ModelError(.invalidGraph, "value '\(node.output)' written by node '\(node.name)' is defined twice")
            }
        }
        for output in outputs where !defined.contains(output) {
            throw ModelError(.invalidGraph, "graph output '\(output)' is never written")
        }
        for (name, tensor) in initializers where !tensor.isFinite {
            throw ModelError(.nonFinite, "initializer '\(name)' holds NaN or infinity")
        }
        for output in outputs where initializers[output] != nil {
            throw ModelError(.invalidGraph, "graph output '\(output)' is a constant, not a computed value")
        }
        _ = try inferShapes(batch: 1)
    }

    /// The node that writes `value`, if any.
    public func producer(of value: String) -> Node? {
        nodes.first { $0.output == value }
    }

    /// Nodes that read `value`.
    public func consumers(of value: String) -> [Node] {
        nodes.filter { $0.inputs.contains(value) }
    }
}
