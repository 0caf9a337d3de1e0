import Core

extension ModelSignature {
    /// Names of the graph inputs the feeds are for, in the order `feeds(from:)` returns them
    /// (the compiled program's input order).
    var feedNames: [String] { plans.map(\.name) }

    /// Checks `tensors` against the inputs and turns them into graph feeds by running the
    /// model's feature pipeline. Returns each graph input's values (`rows` samples, row-major,
    /// in `feedNames` order) and the batch size.
    func feeds(from tensors: [InferenceTensor]) throws(InferenceError) -> (values: [[Float]], rows: Int) {
        var ordered = [InferenceTensor?](repeating: nil, count: bindings.count)
        var rows = -1
        for tensor in tensors {
            guard let index = bindings.firstIndex(where: { $0.spec.name == tensor.name }) else {
                throw InferenceError(
                    .invalidRequest,
                    "unknown input '\(tensor.name)'; the model takes \(bindings.map { "'\($0.spec.name)'" }.joined(separator: ", "))"
                )
            }
            guard ordered[index] == nil else { throw InferenceError(.invalidRequest, "input '\(tensor.name)' is given twice") }
            let binding = bindings[index]
            try check(tensor, against: binding)
            let batch = tensor.shape[0]
            guard rows < 0 || rows == batch else {
                throw InferenceError(.invalidRequest, "input '\(tensor.name)' has \(batch) rows, another input has \(rows)")
            }
            rows = batch
            ordered[index] = tensor
        }
        if let missing = ordered.indices.first(where: { ordered[$0] == nil }) {
            throw InferenceError(.invalidRequest, "missing input '\(bindings[missing].spec.name)'")
        }
        let inputs = ordered.map { $0! }
        var feeds: [[Float]] = []
        feeds.reserveCapacity(plans.count)
        for plan in plans {
            var out = [Float](repeating: 0, count: rows * plan.width)
            out.withUnsafeMutableBufferPointer { buffer in
                for step in plan.steps {
                    Self.fill(
                        step, from: inputs[step.input], binding: bindings[step.input], rows: rows, width: plan.width, into: buffer
                    )
                }
            }
            for value in out where !value.isFinite {
                throw InferenceError(
                    .invalidRequest, "input values for '\(plan.name)' are NaN or infinite after the feature pipeline")
            }
            feeds.append(out)
        }
        return (feeds, rows)
    }

    /// Feeds as the named tensors `Int8Program.run(_:workspace:)` takes.
    func tensors(_ values: [[Float]], rows: Int) -> [String: Tensor] {
        var tensors: [String: Tensor] = [:]
        for (plan, scalars) in zip(plans, values) {
            tensors[plan.name] = Tensor(shape: [rows] + plan.sampleShape, scalars: scalars)
        }
        return tensors
    }

    private func check(_ tensor: InferenceTensor, against binding: InputBinding) throws(InferenceError) {
        let name = tensor.name
        switch binding.spec.datatype {
        case .bytes:
            guard tensor.datatype == .bytes else {
                throw InferenceError(.invalidRequest, "input '\(name)' must be BYTES (text), got \(tensor.datatype.rawValue)")
            }
        default:
            guard tensor.datatype.isNumber else {
                throw InferenceError(
                    .invalidRequest, "input '\(name)' must be a number type (FP32 is native), got \(tensor.datatype.rawValue)")
            }
        }
        guard let rows = tensor.shape.first, rows >= 1, binding.sampleShapes.contains(Array(tensor.shape.dropFirst())) else {
            let accepted = binding.sampleShapes.map { "\([-1] + $0)" }.joined(separator: " or ")
            throw InferenceError(
                .invalidRequest, "input '\(name)' has shape \(tensor.shape), the model takes \(accepted) with at least one row")
        }
        guard tensor.values.count == rows * binding.width else {
            throw InferenceError(
                .invalidRequest,
                "input '\(name)' has \(tensor.values.count) elements, its shape \(tensor.shape) holds \(rows * binding.width)")
        }
        if case .numbers(let values) = tensor.values, !values.allSatisfy({ $0.isFinite }) {
            throw InferenceError(.invalidRequest, "input '\(name)' holds NaN or infinity")
        }
    }

    /// Writes one step's values for every row; the same arithmetic as `FeaturePipeline.transform`.
    private static func fill(
        _ step: BoundStep, from tensor: InferenceTensor, binding: InputBinding, rows: Int, width: Int,
        into out: UnsafeMutableBufferPointer<Float>
    ) {
        let stride = binding.width
        switch (step.transform, tensor.values) {
        case (.oneHot(let categories), .bytes(let cells)):
            for r in 0..<rows {
                if let k = categories.firstIndex(of: trimmed(cells[r])) { out[r * width + step.offset + k] = 1 }
            }
        case (.hashTokens(let buckets, let maxTokens, let lowercase), .bytes(let cells)):
            for r in 0..<rows {
                let ids = TokenHasher.ids(
                    String(decoding: cells[r], as: UTF8.self), buckets: buckets, maxTokens: maxTokens, lowercase: lowercase)
                for t in 0..<maxTokens { out[r * width + step.offset + t] = t < ids.count ? Float(ids[t]) : -1 }
            }
        case (.bucketize(let boundaries), .numbers(let x)):
            let per = boundaries.count + 1
            for (c, column) in step.columns.enumerated() {
                for r in 0..<rows {
                    let value = x[r * stride + column]
                    let bucket = boundaries.firstIndex { value < $0 } ?? boundaries.count
                    out[r * width + step.offset + c * per + bucket] = 1
                }
            }
        case (_, .numbers(let x)):
            for (c, column) in step.columns.enumerated() {
                let (center, k, b) = affine(step.transform, column: c)
                for r in 0..<rows { out[r * width + step.offset + c] = (x[r * stride + column] - center) * k + b }
            }
        case (_, .bytes):
            preconditionFailure("a numeric step bound to a BYTES input")
        }
    }

    /// (center, multiplier, offset) of a numeric transform for column `c`, as Core defines it:
    /// y = (x − center) · multiplier + offset.
    private static func affine(_ transform: FeatureTransform, column c: Int) -> (Float, Float, Float) {
        switch transform {
        case .standardize(let mean, let std): (mean[c], 1 / std[c], 0)
        case .minMax(let lo, let hi): (lo[c], 1 / (hi[c] - lo[c]), 0)
        case .scale(let factor, let offset), .image(_, _, _, let factor, let offset): (0, factor, offset)
        case .identity, .oneHot, .bucketize, .hashTokens: (0, 1, 0)
        }
    }

    /// The cell as the CSV reader compares categories: without surrounding spaces, tabs and CRs.
    private static func trimmed(_ bytes: [UInt8]) -> String {
        let isSpace = { (b: UInt8) in b == 0x20 || b == 0x09 || b == 0x0D }
        guard let start = bytes.firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = bytes.lastIndex(where: { !isSpace($0) })!
        return String(decoding: bytes[start...end], as: UTF8.self)
    }
}
