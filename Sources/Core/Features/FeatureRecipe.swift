/// What to do with raw columns, before the statistics are known; `fit` learns them from data.
public struct FeatureRecipe: Sendable, Equatable {
    /// How numeric columns are scaled.
    public enum Scaling: Sendable, Equatable {
        /// Unchanged.
        case none
        /// Zero mean, unit variance (per column; over all pixels for images).
        case standard
        /// To [0, 1] from the training minimum and maximum.
        case minMax
        /// Divided by a constant (e.g. 16 for 4-bit pixel counts, 255 for bytes).
        case divide(Float)

        /// Parses `none`, `standard`, `minmax` or `divide:N`.
        public init(parsing text: String) throws(ModelError) {
            switch text {
            case "none": self = .none
            case "standard", "standardize": self = .standard
            case "minmax", "min-max": self = .minMax
            default:
                if text.hasPrefix("divide:"), let value = Float(text.dropFirst(7)), value > 0, value.isFinite {
                    self = .divide(value)
                } else {
                    throw ModelError(.invalidArgument, "unknown scaling '\(text)'; use none, standard, minmax or divide:N")
                }
            }
        }
    }

    /// Scaling of numeric columns.
    public var scaling: Scaling
    /// Text columns one-hot encoded by their values.
    public var categorical: [String]
    /// Numeric columns bucketized at the given boundaries.
    public var buckets: [String: [Float]]
    /// Text columns hashed into token ids for an embedding bag, read by model input "tokens".
    public var text: [String]
    /// Hash buckets and maximum tokens for text columns.
    public var textBuckets: Int
    /// Maximum tokens kept per text cell.
    public var maxTokens: Int
    /// When set, the numeric columns (in file order) form one image [height, width, channels].
    public var image: [Int]?

    /// A recipe; by default every column is numeric and unscaled.
    public init(
        scaling: Scaling = .none, categorical: [String] = [], buckets: [String: [Float]] = [:], text: [String] = [],
        textBuckets: Int = 4096, maxTokens: Int = 32, image: [Int]? = nil
    ) {
        self.scaling = scaling
        self.categorical = categorical
        self.buckets = buckets
        self.text = text
        self.textBuckets = textBuckets
        self.maxTokens = maxTokens
        self.image = image
    }

    /// Learns statistics and categories from `table` (feature columns only) and returns the pipeline.
    public func fit(_ table: DataTable) throws(ModelError) -> FeaturePipeline {
        for name in categorical + text + Array(buckets.keys) { _ = try table.index(of: name) }
        let special = Set(categorical + text + buckets.keys)
        let numeric = table.columnNames.filter { !special.contains($0) }
        var steps: [FeatureStep] = []
        if let image {
            guard image.count == 3, image.reduce(1, *) == numeric.count else {
                throw ModelError(
                    .invalidArgument, "image \(image) needs \(image.reduce(1, *)) numeric columns, the data has \(numeric.count)")
            }
            var all: [Float] = []
            for name in numeric { all += try table.numbers(name) }
            let (factor, offset) = globalAffine(all)
            steps.append(
                FeatureStep(
                    columns: numeric, transform: .image(height: image[0], width: image[1], channels: image[2], factor: factor, offset: offset)))
        } else if !numeric.isEmpty {
            steps.append(FeatureStep(columns: numeric, transform: try numericTransform(numeric, table)))
        }
        for name in table.columnNames where buckets[name] != nil {
            steps.append(FeatureStep(columns: [name], transform: .bucketize(boundaries: buckets[name]!.sorted())))
        }
        for name in categorical {
            let values = Set(try table.cells(name).map(\.trimmed)).sorted()
            steps.append(FeatureStep(columns: [name], transform: .oneHot(categories: values)))
        }
        for name in text {
            steps.append(
                FeatureStep(
                    columns: [name], transform: .hashTokens(buckets: textBuckets, maxTokens: maxTokens, lowercase: true),
                    target: "tokens"))
        }
        let pipeline = FeaturePipeline(steps: steps)
        try pipeline.validate()
        return pipeline
    }

    private func numericTransform(_ names: [String], _ table: DataTable) throws(ModelError) -> FeatureTransform {
        switch scaling {
        case .none: return .identity
        case .divide(let d): return .scale(factor: 1 / d, offset: 0)
        case .standard, .minMax:
            var firsts: [Float] = []
            var seconds: [Float] = []
            for name in names {
                let (a, b) = statistics(try table.numbers(name))
                firsts.append(a)
                seconds.append(b)
            }
            return scaling == .standard ? .standardize(mean: firsts, std: seconds) : .minMax(min: firsts, max: seconds)
        }
    }

    /// One (factor, offset) over all values (images are scaled as a whole).
    private func globalAffine(_ values: [Float]) -> (Float, Float) {
        switch scaling {
        case .none: return (1, 0)
        case .divide(let d): return (1 / d, 0)
        case .standard:
            let (mean, std) = statistics(values)
            return (1 / std, -mean / std)
        case .minMax:
            let (lo, hi) = statistics(values)
            return (1 / (hi - lo), -lo / (hi - lo))
        }
    }

    /// (mean, std) for standard scaling, (min, max) for min-max, with a constant column's
    /// spread replaced by 1 so that it maps to a constant instead of dividing by zero.
    private func statistics(_ values: [Float]) -> (Float, Float) {
        if scaling == .standard {
            let (mean, std) = Self.moments(values)
            return (mean, std > 1e-12 ? std : 1)
        }
        let lo = values.min() ?? 0
        let hi = values.max() ?? 1
        return (lo, hi > lo ? hi : lo + 1)
    }

    /// Mean and population standard deviation, accumulated in Double.
    static func moments(_ values: [Float]) -> (Float, Float) {
        guard !values.isEmpty else { return (0, 1) }
        var sum: Double = 0
        for v in values { sum += Double(v) }
        let mean = sum / Double(values.count)
        var sq: Double = 0
        for v in values { sq += (Double(v) - mean) * (Double(v) - mean) }
        return (Float(mean), Float((sq / Double(values.count)).squareRoot()))
    }
}
