extension Graph {
    /// The shape of every value when the graph runs on `batch` samples (-1 input dimensions
    /// become `batch`). Throws a `shapeMismatch` naming the node on the first inconsistency.
    public func inferShapes(batch: Int) throws(ModelError) -> [String: [Int]] {
        var shapes: [String: [Int]] = [:]
        for (name, tensor) in initializers { shapes[name] = tensor.shape }
        for input in inputs {
            let shape = input.shape.map { $0 < 0 ? batch : $0 }
            guard Self.elementCount(shape) != nil else {
                throw ModelError(.shapeMismatch, "input '\(input.name)' has an impossible shape \(input.shape)")
            }
            shapes[input.name] = shape
        }
        for node in nodes {
            var inputShapes: [[Int]] = []
            for input in node.inputs {
                guard let shape = shapes[input] else {
                    throw ModelError(.invalidGraph, "node '\(node.name)' reads unknown value '\(input)'")
                }
                inputShapes.append(shape)
            }
            let shape = try Self.outputShape(of: node, inputs: inputShapes)
            guard Self.elementCount(shape) != nil else {
                throw ModelError(.shapeMismatch, "node '\(node.name)' would produce an impossible shape \(shape)")
            }
            shapes[node.output] = shape
        }
        return shapes
    }

    /// Largest dimension and element count a graph may have (keeps size arithmetic exact).
    public static let maxDimension = 1 << 31
    /// Largest number of elements in one tensor.
    public static let maxElements = 1 << 40

    /// The element count of `shape`, or nil when a dimension is negative or the count is too
    /// large to be a real tensor.
    public static func elementCount(_ shape: [Int]) -> Int? {
        var total = 1
        for d in shape {
            guard d >= 0, d <= maxDimension else { return nil }
            let (product, overflow) = total.multipliedReportingOverflow(by: d)
            guard !overflow, product <= maxElements else { return nil }
            total = product
        }
        return total
    }

    /// Numpy broadcasting of two shapes, or nil when they do not broadcast.
    public static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = max(a.count, b.count)
        var out = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let x = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let y = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            if x == y || y == 1 {
                out[i] = x
            } else if x == 1 {
                out[i] = y
            } else {
                return nil
            }
        }
        return out
    }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    static func outputShape(of node: Node, inputs s: [[Int]]) throws(ModelError) -> [Int] {
        func fail(_ why: String) -> ModelError {
            ModelError(.shapeMismatch, "node '\(node.name)' (\(node.op.kind)): \(why)")
        }
        func arity(_ range: ClosedRange<Int>) throws(ModelError) {
            guard range.contains(s.count) else { throw fail("takes \(range) inputs, got \(s.count)") }
        }
        switch node.op {
        case .dense:
            try arity(2...3)
            let (x, w) = (s[0], s[1])
            guard x.count == 2 else { throw fail("input must be [batch, features], got \(x)") }
            guard w.count == 2, w[1] == x[1] else { throw fail("weight \(w) does not match input \(x)") }
            if s.count == 3, s[2] != [w[0]] { throw fail("bias \(s[2]) does not match \(w[0]) outputs") }
            return [x[0], w[0]]
        case .conv2d(let window, let groups):
            try arity(2...3)
            try window.validate(node: node.name)
            let (x, w) = (s[0], s[1])
            guard x.count == 4 else { throw fail("input must be NHWC, got \(x)") }
            guard groups >= 1, x[3] % groups == 0, w.count == 4, w[0] % groups == 0,
                w[1] == window.kernel[0], w[2] == window.kernel[1], w[3] * groups == x[3]
            else { throw fail("weight \(w) does not fit input \(x) with \(groups) group(s)") }
            if s.count == 3, s[2] != [w[0]] { throw fail("bias \(s[2]) does not match \(w[0]) channels") }
            let (h, wd) = window.outputSize(height: x[1], width: x[2])
            guard h > 0, wd > 0 else { throw fail("window is larger than the padded input \(x)") }
            return [x[0], h, wd, w[0]]
        case .depthwiseConv2d(let window, let multiplier):
            try arity(2...3)
            try window.validate(node: node.name)
            let (x, w) = (s[0], s[1])
            guard x.count == 4 else { throw fail("input must be NHWC, got \(x)") }
            guard multiplier >= 1, w == [window.kernel[0], window.kernel[1], x[3] * multiplier] else {
                throw fail("weight \(w) does not fit input \(x) with multiplier \(multiplier)")
            }
            if s.count == 3, s[2] != [w[2]] { throw fail("bias \(s[2]) does not match \(w[2]) channels") }
            let (h, wd) = window.outputSize(height: x[1], width: x[2])
            guard h > 0, wd > 0 else { throw fail("window is larger than the padded input \(x)") }
            return [x[0], h, wd, w[2]]
        case .maxPool(let window), .avgPool(let window, _):
            try arity(1...1)
            try window.validate(node: node.name)
            let x = s[0]
            guard x.count == 4 else { throw fail("input must be NHWC, got \(x)") }
            let (h, wd) = window.outputSize(height: x[1], width: x[2])
            guard h > 0, wd > 0 else { throw fail("window is larger than the padded input \(x)") }
            return [x[0], h, wd, x[3]]
        case .globalAvgPool:
            try arity(1...1)
            guard s[0].count == 4 else { throw fail("input must be NHWC, got \(s[0])") }
            return [s[0][0], s[0][3]]
        case .flatten:
            try arity(1...1)
            guard s[0].count >= 1 else { throw fail("input must have a batch dimension") }
            return [s[0][0], s[0].dropFirst().reduce(1, *)]
        case .reshape(let target):
            try arity(1...1)
            return try reshape(s[0], to: target, fail: fail)
        case .add:
            try arity(2...2)
            guard let out = broadcast(s[0], s[1]) else { throw fail("shapes \(s[0]) and \(s[1]) do not broadcast") }
            return out
        case .relu, .relu6, .sigmoid, .tanh, .softmax:
            try arity(1...1)
            return s[0]
        case .batchNorm:
            try arity(5...5)
            guard let c = s[0].last else { throw fail("input has no channel dimension") }
            for p in s.dropFirst() where p != [c] { throw fail("statistics \(p) do not match \(c) channels") }
            return s[0]
        case .embeddingBag:
            try arity(2...2)
            guard s[0].count == 2 else { throw fail("indices must be [batch, tokens], got \(s[0])") }
            guard s[1].count == 2 else { throw fail("table must be [buckets, dim], got \(s[1])") }
            return [s[0][0], s[1][1]]
        case .concat:
            guard !s.isEmpty else { throw fail("needs at least one input") }
            let rank = s[0].count
            var last = 0
            for shape in s {
                guard shape.count == rank, shape.dropLast() == s[0].dropLast() else {
                    throw fail("inputs \(s) differ outside the last axis")
                }
                last += shape.last ?? 0
            }
            return Array(s[0].dropLast()) + [last]
        }
    }

    /// The shape a row-major reshape of `x` to `target` produces: one −1 is inferred and 0
    /// copies the input dimension (ONNX rules).
    public static func reshapeTarget(_ x: [Int], to target: [Int]) throws(ModelError) -> [Int] {
        try reshape(x, to: target) { ModelError(.shapeMismatch, "reshape of \(x) to \(target): \($0)") }
    }

    private static func reshape(_ x: [Int], to target: [Int], fail: (String) -> ModelError) throws(ModelError) -> [Int] {
        var out = target
        var inferred: Int?
        for (i, d) in target.enumerated() {
            if d == 0 {
                guard i < x.count else { throw fail("0 at axis \(i) has no input dimension to copy") }
                out[i] = x[i]
            } else if d == -1 {
                guard inferred == nil else { throw fail("more than one -1 in \(target)") }
                inferred = i
            } else if d < 0 || d > maxDimension {
                throw fail("invalid dimension \(d) in \(target)")
            }
        }
        let total = x.reduce(1, *)
        if let i = inferred {
            let others = out.enumerated().filter { $0.offset != i }.map(\.element)
            guard let known = elementCount(others), known > 0, total % known == 0 else {
                throw fail("cannot reshape \(x) to \(target)")
            }
            out[i] = total / known
        }
        guard elementCount(out) == total else { throw fail("cannot reshape \(x) to \(target)") }
        return out
    }
}
