/// A histogram over fixed bin edges: cheap to keep on a device and mergeable on the hub.
///
/// Every device of a model uses the edges from the model package's reference statistics, so
/// sketches of the same feature merge by adding counts. `k` edges make `k + 1` bins:
/// `(-inf, e0)`, `[e0, e1)`, ..., `[e(k-1), +inf)`. Missing and non-finite values are counted apart.
public struct HistogramSketch: Codable, Sendable, Equatable {
    /// The most edges a sketch may have.
    public static let maxEdges = 1024

    /// Bin edges, strictly increasing and finite.
    public var edges: [Double]
    /// Values per bin (`edges.count + 1` entries).
    public var counts: [Int64]
    /// Values that were missing, NaN or infinite.
    public var missing: Int64
    /// The sum of the finite values (for the mean).
    public var sum: Double
    /// The smallest finite value seen, if any.
    public var min: Double?
    /// The largest finite value seen, if any.
    public var max: Double?

    /// An empty sketch over `edges`.
    public init(edges: [Double]) {
        self.edges = edges
        counts = [Int64](repeating: 0, count: edges.count + 1)
        missing = 0
        sum = 0
        min = nil
        max = nil
    }

    /// The number of finite values counted.
    public var count: Int64 { counts.reduce(0, +) }

    /// Counts `value` (nil, NaN and infinities count as missing).
    public mutating func add(_ value: Double?) {
        guard let value, value.isFinite else {
            missing += 1
            return
        }
        var low = 0
        var high = edges.count
        while low < high {
            let mid = (low + high) / 2
            if value < edges[mid] { high = mid } else { low = mid + 1 }
        }
        counts[low] += 1
        sum += value
        min = Swift.min(min ?? value, value)
        max = Swift.max(max ?? value, value)
    }

    /// The sketch of both inputs; the edges must be identical.
    public func merged(with other: HistogramSketch) throws(ProtocolError) -> HistogramSketch {
        guard edges == other.edges else {
            throw ProtocolError(.invalidValue, "sketches with different bin edges cannot be merged")
        }
        var out = self
        for i in counts.indices { out.counts[i] += other.counts[i] }
        out.missing += other.missing
        out.sum += other.sum
        out.min = [min, other.min].compactMap { $0 }.min()
        out.max = [max, other.max].compactMap { $0 }.max()
        return out
    }

    /// Checks edges, counts and extremes are consistent.
    func validate(_ schema: String, _ field: String) throws(ProtocolError) {
        guard edges.count <= Self.maxEdges else {
            throw FieldCheck.fail(schema, "\(field).edges", "has more than \(Self.maxEdges) edges")
        }
        guard edges.allSatisfy(\.isFinite), zip(edges, edges.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw FieldCheck.fail(schema, "\(field).edges", "must be finite and strictly increasing")
        }
        guard counts.count == edges.count + 1 else {
            throw FieldCheck.fail(
                schema, "\(field).counts", "has \(counts.count) bins; \(edges.count) edges make \(edges.count + 1)")
        }
        guard counts.allSatisfy({ $0 >= 0 }), missing >= 0 else {
            throw FieldCheck.fail(schema, "\(field).counts", "has a negative count")
        }
        try FieldCheck.finite(sum, -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude, schema, "\(field).sum")
        guard (min == nil) == (count == 0), (max == nil) == (count == 0) else {
            throw FieldCheck.fail(schema, "\(field).min", "and 'max' must be present exactly when values were counted")
        }
        if let min, let max, !(min.isFinite && max.isFinite && min <= max) {
            throw FieldCheck.fail(schema, "\(field).min", "must be finite and not above 'max'")
        }
    }
}

/// Sketches of recent inputs and predictions, on `devices/{id}/drift`; the hub merges them per
/// group and window and compares them with the model's reference statistics.
public struct DriftReport: ControlMessage {
    /// "drift".
    public static let schema = "drift"
    /// The most features a report may carry.
    public static let maxFeatures = 4096

    /// One feature's sketch.
    public struct Feature: Codable, Sendable, Equatable {
        /// The feature's name in the model's feature pipeline.
        public var name: String
        /// The sketch of its values in the window.
        public var sketch: HistogramSketch

        /// A named sketch.
        public init(name: String, sketch: HistogramSketch) {
            self.name = name
            self.sketch = sketch
        }
    }

    /// The message id.
    public var id: String
    /// When the report was written, ms since the epoch.
    public var time: Int64
    /// The model whose inputs were sketched.
    public var modelName: ModelName
    /// The model version whose inputs were sketched.
    public var modelVersion: String
    /// The window's start, ms since the epoch.
    public var windowStart: Int64
    /// The window's end (exclusive), ms since the epoch.
    public var windowEnd: Int64
    /// Per-feature sketches of the raw inputs.
    public var features: [Feature]
    /// Sketch of the predictions (class index, or the regression output), if kept.
    public var predictions: HistogramSketch?

    /// A drift report.
    public init(
        id: String, time: Int64, modelName: ModelName, modelVersion: String, windowStart: Int64, windowEnd: Int64,
        features: [Feature], predictions: HistogramSketch? = nil
    ) {
        self.id = id
        self.time = time
        self.modelName = modelName
        self.modelVersion = modelVersion
        self.windowStart = windowStart
        self.windowEnd = windowEnd
        self.features = features
        self.predictions = predictions
    }

    /// Checks the window, the feature names (unique) and every sketch.
    public func validate() throws(ProtocolError) {
        let s = Self.schema
        try FieldCheck.text(modelVersion, s, "modelVersion", maxBytes: 64)
        guard windowStart >= 0, windowStart < windowEnd else {
            throw FieldCheck.fail(s, "windowStart", "must be non-negative and before 'windowEnd'")
        }
        guard features.count <= Self.maxFeatures else {
            throw FieldCheck.fail(s, "features", "has more than \(Self.maxFeatures) entries")
        }
        var seen = Set<String>()
        for (i, feature) in features.enumerated() {
            try FieldCheck.text(feature.name, s, "features[\(i)].name", maxBytes: 256)
            guard seen.insert(feature.name).inserted else {
                throw FieldCheck.fail(s, "features[\(i)].name", "repeats '\(feature.name)'")
            }
            try feature.sketch.validate(s, "features[\(i)].sketch")
        }
        try predictions?.validate(s, "predictions")
    }
}
