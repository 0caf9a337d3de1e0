/// A fitted transform from raw columns to model input values.
public enum FeatureTransform: Codable, Sendable, Equatable {
    /// Numbers as they are.
    case identity
    /// (x − mean) / std per column.
    case standardize(mean: [Float], std: [Float])
    /// (x − min) / (max − min) per column.
    case minMax(min: [Float], max: [Float])
    /// x · factor + offset (e.g. pixel counts to [0, 1]).
    case scale(factor: Float, offset: Float)
    /// One indicator per known category of a text column; unknown categories give all zeros.
    case oneHot(categories: [String])
    /// One indicator per bucket of each numeric column: bucket i holds x < boundaries[i].
    case bucketize(boundaries: [Float])
    /// Hashes the tokens of a text column into `buckets` ids (FNV-1a), up to `maxTokens`,
    /// padded with −1, for an embedding bag.
    case hashTokens(buckets: Int, maxTokens: Int, lowercase: Bool)
    /// Pixel columns (row-major H×W×C) scaled by factor and offset into an image [H, W, C].
    case image(height: Int, width: Int, channels: Int, factor: Float, offset: Float)
}

/// One transform over a set of columns, feeding one model input.
public struct FeatureStep: Codable, Sendable, Equatable {
    /// Raw columns read, in order.
    public var columns: [String]
    /// What is done to them.
    public var transform: FeatureTransform
    /// Model input the values are appended to.
    public var target: String

    /// A step reading `columns` into `target`.
    public init(columns: [String], transform: FeatureTransform, target: String = ModelBuilder.inputName) {
        self.columns = columns
        self.transform = transform
        self.target = target
    }

    /// Number of values this step emits per row.
    public var width: Int {
        switch transform {
        case .identity, .standardize, .minMax, .scale, .image: columns.count
        case .oneHot(let categories): categories.count
        case .bucketize(let boundaries): columns.count * (boundaries.count + 1)
        case .hashTokens(_, let maxTokens, _): maxTokens
        }
    }
}

/// The transforms that turn raw rows into model inputs, stored in the model file and applied
/// identically in training, evaluation and on devices.
public struct FeaturePipeline: Codable, Sendable, Equatable {
    /// Steps in order; the values of steps with the same target are concatenated.
    public var steps: [FeatureStep]

    /// A pipeline of `steps`.
    public init(steps: [FeatureStep]) {
        self.steps = steps
    }

    /// Raw columns the pipeline reads.
    public var inputColumns: [String] {
        var seen = Set<String>()
        return steps.flatMap(\.columns).filter { seen.insert($0).inserted }
    }

    /// Model inputs produced, with their per-sample shapes (without the batch dimension).
    public var outputShapes: [(name: String, shape: [Int])] {
        var order: [String] = []
        var widths: [String: Int] = [:]
        var images: [String: [Int]] = [:]
        for step in steps {
            if widths[step.target] == nil { order.append(step.target) }
            widths[step.target, default: 0] += step.width
            if case .image(let h, let w, let c, _, _) = step.transform { images[step.target] = [h, w, c] }
        }
        return order.map { name in (name, images[name] ?? [widths[name]!]) }
    }

    /// Checks that the steps are consistent; the error names the step.
    public func validate() throws(ModelError) {
        for (i, step) in steps.enumerated() {
            let n = step.columns.count
            let fail = { (why: String) in ModelError(.invalidArgument, "feature step \(i + 1) (\(step.columns.first ?? "?")...): \(why)") }
            guard n > 0 else { throw fail("reads no columns") }
            switch step.transform {
            case .standardize(let mean, let std):
                guard mean.count == n, std.count == n, std.allSatisfy({ $0 > 0 && $0.isFinite }) else {
                    throw fail("needs one mean and one positive std per column")
                }
            case .minMax(let lo, let hi):
                guard lo.count == n, hi.count == n, zip(lo, hi).allSatisfy({ $1 > $0 }) else {
                    throw fail("needs min < max per column")
                }
            case .scale(let factor, let offset):
                guard factor.isFinite, offset.isFinite else { throw fail("factor and offset must be finite") }
            case .oneHot(let categories):
                guard n == 1, !categories.isEmpty else { throw fail("one-hot reads one column and needs categories") }
            case .bucketize(let boundaries):
                guard !boundaries.isEmpty, zip(boundaries, boundaries.dropFirst()).allSatisfy({ $0 < $1 }) else {
                    throw fail("bucket boundaries must be increasing")
                }
            case .hashTokens(let buckets, let maxTokens, _):
                guard n == 1, buckets > 0, (1...(1 << 16)).contains(maxTokens) else { throw fail("token hashing reads one column into buckets > 0") }
            case .image(let h, let w, let c, _, _):
                guard h > 0, w > 0, c > 0, Graph.elementCount([h, w, c]) == n else { throw fail("image \(h)x\(w)x\(c) needs \(h * w * c) columns, has \(n)") }
                if steps.contains(where: { $0.target == step.target && $0 != step }) {
                    throw fail("an image step must be the only step of its input '\(step.target)'")
                }
            case .identity:
                break
            }
        }
    }

    /// Applies the pipeline to every row of `table`, giving one tensor per model input.
    public func transform(_ table: DataTable) throws(ModelError) -> [String: Tensor] {
        let rows = table.rowCount
        var buffers: [String: [Float]] = [:]
        var offsets: [String: Int] = [:]
        let shapes = outputShapes
        let widths = Dictionary(uniqueKeysWithValues: shapes.map { ($0.name, $0.shape.reduce(1, *)) })
        for (name, width) in widths { buffers[name] = [Float](repeating: 0, count: rows * width) }
        for step in steps {
            let width = widths[step.target]!
            let offset = offsets[step.target, default: 0]
            try buffers[step.target]!.withUnsafeMutableBufferPointer { (out) throws(ModelError) in
                try Self.apply(step, table, into: out, rowWidth: width, offset: offset)
            }
            offsets[step.target] = offset + step.width
        }
        return Dictionary(uniqueKeysWithValues: shapes.map { ($0.name, Tensor(shape: [rows] + $0.shape, scalars: buffers[$0.name]!)) })
    }

    private static func apply(
        _ step: FeatureStep, _ table: DataTable, into out: UnsafeMutableBufferPointer<Float>, rowWidth: Int, offset: Int
    ) throws(ModelError) {
        let rows = table.rowCount
        switch step.transform {
        case .oneHot(let categories):
            let cells = try table.cells(step.columns[0])
            let index = Dictionary(categories.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
            for r in 0..<rows {
                if let k = index[cells[r].trimmed] { out[r * rowWidth + offset + k] = 1 }
            }
        case .hashTokens(let buckets, let maxTokens, let lowercase):
            let cells = try table.cells(step.columns[0])
            for r in 0..<rows {
                let ids = TokenHasher.ids(cells[r], buckets: buckets, maxTokens: maxTokens, lowercase: lowercase)
                for t in 0..<maxTokens { out[r * rowWidth + offset + t] = t < ids.count ? Float(ids[t]) : -1 }
            }
        case .bucketize(let boundaries):
            let per = boundaries.count + 1
            for (c, name) in step.columns.enumerated() {
                let values = try table.numbers(name)
                for r in 0..<rows {
                    let bucket = boundaries.firstIndex { values[r] < $0 } ?? boundaries.count
                    out[r * rowWidth + offset + c * per + bucket] = 1
                }
            }
        case .identity, .standardize, .minMax, .scale, .image:
            for (c, name) in step.columns.enumerated() {
                let values = try table.numbers(name)
                let (center, k, b) = step.transform.affine(column: c)
                for r in 0..<rows { out[r * rowWidth + offset + c] = (values[r] - center) * k + b }
            }
        }
    }
}

extension FeatureTransform {
    /// The per-column map of numeric transforms as (center, multiplier, offset):
    /// y = (x − center) · multiplier + offset, so that the range ends map exactly.
    func affine(column c: Int) -> (Float, Float, Float) {
        switch self {
        case .standardize(let mean, let std): (mean[c], 1 / std[c], 0)
        case .minMax(let lo, let hi): (lo[c], 1 / (hi[c] - lo[c]), 0)
        case .scale(let factor, let offset), .image(_, _, _, let factor, let offset): (0, factor, offset)
        case .identity, .oneHot, .bucketize, .hashTokens: (0, 1, 0)
        }
    }
}

/// Splits text into tokens and hashes them into bucket ids.
public enum TokenHasher {
    /// Ids of the first `maxTokens` alphanumeric tokens of `text`, FNV-1a 64 modulo `buckets`.
    public static func ids(_ text: String, buckets: Int, maxTokens: Int, lowercase: Bool) -> [Int] {
        var ids: [Int] = []
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        var inToken = false
        for var byte in text.utf8 {
            let isWord = (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || byte >= 128
            if isWord {
                if lowercase && byte >= 65 && byte <= 90 { byte += 32 }
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
                inToken = true
            } else if inToken {
                ids.append(Int(hash % UInt64(buckets)))
                if ids.count == maxTokens { return ids }
                hash = 0xcbf2_9ce4_8422_2325
                inToken = false
            }
        }
        if inToken && ids.count < maxTokens { ids.append(Int(hash % UInt64(buckets))) }
        return ids
    }
}
