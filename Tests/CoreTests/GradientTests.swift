import Testing

@testable import Core

/// Checks every op's backward pass against central finite differences of its forward pass.
///
/// The loss is L = Σ y·R for a fixed random R, so dL/dy = R. The input gradient is checked
/// through a trainable zero offset added to the input (dL/d offset = dL/dx).
@Suite("Backward passes match finite differences")
struct GradientTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var op: Op
        var inputShape: [Int]
        var params: [(String, [Int])]
        var extraInputs: [(String, Tensor)] = []
        var inputValues: (@Sendable (inout RandomSource, Int) -> Float)? = nil
        var testDescription: String { name }
    }

    static let window = Window2D(kernel: [3, 3], stride: [2, 1], dilation: [1, 2], padding: [1, 2, 0, 1])
    static let cases: [Case] = [
        Case(name: "dense", op: .dense, inputShape: [3, 5], params: [("w", [4, 5]), ("b", [4])]),
        Case(name: "dense without bias", op: .dense, inputShape: [2, 3], params: [("w", [2, 3])]),
        Case(name: "conv2d", op: .conv2d(window: window, groups: 1), inputShape: [2, 6, 7, 3], params: [("w", [4, 3, 3, 3]), ("b", [4])]),
        Case(name: "conv2d groups", op: .conv2d(window: .square(3, same: true), groups: 2), inputShape: [1, 5, 5, 4], params: [("w", [6, 3, 3, 2]), ("b", [6])]),
        Case(name: "depthwise", op: .depthwiseConv2d(window: window, multiplier: 2), inputShape: [2, 6, 7, 3], params: [("w", [3, 3, 6]), ("b", [6])]),
        Case(name: "max pool", op: .maxPool(window: Window2D(kernel: [2, 3], stride: [2, 2], padding: [0, 1, 1, 0])), inputShape: [2, 5, 6, 3], params: []),
        Case(name: "avg pool excluding pad", op: .avgPool(window: Window2D(kernel: [3, 3], stride: [2, 2], padding: [1, 1, 1, 1]), countIncludePad: false), inputShape: [1, 5, 5, 2], params: []),
        Case(name: "avg pool including pad", op: .avgPool(window: Window2D(kernel: [3, 3], stride: [2, 2], padding: [1, 1, 1, 1]), countIncludePad: true), inputShape: [1, 5, 5, 2], params: []),
        Case(name: "global avg pool", op: .globalAvgPool, inputShape: [2, 3, 4, 5], params: []),
        Case(name: "flatten", op: .flatten, inputShape: [2, 3, 2, 2], params: []),
        Case(name: "reshape", op: .reshape(shape: [0, -1, 3]), inputShape: [2, 6], params: []),
        Case(name: "add broadcast", op: .add, inputShape: [2, 3, 4], params: [("b", [3, 1])]),
        Case(name: "relu", op: .relu, inputShape: [3, 7], params: []),
        Case(name: "relu6", op: .relu6, inputShape: [3, 7], params: [], inputValues: { r, _ in r.uniform(-3, 9) }),
        Case(name: "sigmoid", op: .sigmoid, inputShape: [3, 7], params: []),
        Case(name: "tanh", op: .tanh, inputShape: [3, 7], params: []),
        Case(name: "softmax", op: .softmax, inputShape: [3, 7], params: []),
        Case(name: "batch norm (training)", op: .batchNorm(epsilon: 1e-3, momentum: 0.9), inputShape: [6, 4], params: [("gamma", [4]), ("beta", [4])],
             extraInputs: [("mean", Tensor(shape: [4])), ("var", Tensor(shape: [4], repeating: 1))]),
        Case(name: "concat", op: .concat, inputShape: [2, 3], params: [("c", [2, 4])]),
    ]

    @Test(arguments: cases)
    func matchesFiniteDifferences(_ c: Case) throws {
        var random = RandomSource(seed: 42)
        let count = c.inputShape.reduce(1, *)
        let x = Tensor(shape: c.inputShape, scalars: (0..<count).map { i in c.inputValues?(&random, i) ?? random.uniform(-1, 1) })
        var initializers: [String: Tensor] = ["offset": Tensor(shape: c.inputShape)]
        for (name, shape) in c.params {
            initializers[name] = Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in random.uniform(-1, 1) })
        }
        for (name, t) in c.extraInputs { initializers[name] = t }
        let nodes = [
            Node(name: "shift", op: .add, inputs: ["x", "offset"], output: "xs"),
            Node(name: "op", op: c.op, inputs: ["xs"] + c.params.map(\.0) + c.extraInputs.map(\.0), output: "y"),
        ]
        let graph = Graph(
            inputs: [ValueSpec(name: "x", shape: c.inputShape)], outputs: ["y"], nodes: nodes, initializers: initializers,
            frozen: Set(c.extraInputs.map(\.0)))
        let runner = try FloatRunner(graph: graph)
        let yShape = try graph.inferShapes(batch: c.inputShape[0])["y"]!
        let r = Tensor(shape: yShape, scalars: (0..<yShape.reduce(1, *)).map { _ in random.uniform(-1, 1) })
        func loss(_ g: Graph) throws -> Double {
            let y = try FloatRunner(graph: g).forward(["x": x], training: true).values["y"]!
            return zip(y.scalars, r.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        let pass = try runner.forward(["x": x], training: true)
        let grads = runner.backward(pass, seeds: ["y": r])
        for name in ["offset"] + c.params.map(\.0) {
            let analytic = try #require(grads[name], "no gradient for \(name)")
            let eps: Float = 1e-2
            for i in 0..<analytic.count {
                var plus = graph
                plus.initializers[name]!.scalars[i] += eps
                var minus = graph
                minus.initializers[name]!.scalars[i] -= eps
                let numeric = (try loss(plus) - loss(minus)) / Double(2 * eps)
                let a = Double(analytic.scalars[i])
                #expect(abs(a - numeric) <= 2e-2 * max(1, abs(numeric)), "\(c.name): d\(name)[\(i)] analytic \(a), numeric \(numeric)")
            }
        }
    }

    @Test("embedding bag gradient reaches only the rows in the bags")
    func embeddingBag() throws {
        for mode in [BagMode.sum, .mean] {
            var random = RandomSource(seed: 3)
            let table = Tensor(shape: [6, 3], scalars: (0..<18).map { _ in random.uniform(-1, 1) })
            let indices = Tensor(shape: [2, 4], scalars: [0, 2, 2, -1, 5, -1, -1, -1])
            let graph = Graph(
                inputs: [ValueSpec(name: "ids", shape: [-1, 4])], outputs: ["y"],
                nodes: [Node(name: "bag", op: .embeddingBag(mode: mode), inputs: ["ids", "table"], output: "y")],
                initializers: ["table": table])
            let runner = try FloatRunner(graph: graph)
            let pass = try runner.forward(["ids": indices], training: true)
            let y = pass.values["y"]!
            let k: Float = mode == .mean ? 1.0 / 3.0 : 1
            for j in 0..<3 {
                #expect(abs(y.scalars[j] - k * (table.scalars[j] + 2 * table.scalars[6 + j])) < 1e-6)
                #expect(y.scalars[3 + j] == table.scalars[15 + j])
            }
            let seed = Tensor(shape: [2, 3], repeating: 1)
            let g = runner.backward(pass, seeds: ["y": seed])["table"]!
            #expect(g.scalars[0..<3].allSatisfy { abs($0 - k) < 1e-6 })
            #expect(g.scalars[6..<9].allSatisfy { abs($0 - 2 * k) < 1e-6 })
            #expect(g.scalars[15..<18].allSatisfy { $0 == 1 })
            #expect(g.scalars[3..<6].allSatisfy { $0 == 0 })
        }
    }
}
