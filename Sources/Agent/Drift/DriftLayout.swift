import Core

/// What a recorder sketches for one model: which elements of which graph input, over which
/// edges, and how the prediction is read from the first graph output.
///
/// Features are the values the int8 graph reads (after the feature pipeline), one per element
/// of a row of each input, named `<input>[i]` (flattened, row-major). Edges are chosen once per
/// input, in this order: explicit `DriftConfiguration.inputEdges`; else the input's static
/// quantization range (the calibrated range, widened to include 0, rounded to 4 significant
/// digits) split into `bins` equal bins; else `fallbackRange` split the same way.
struct DriftLayout: Sendable, Equatable {
    /// One graph input: its elements are features `firstFeature ..< firstFeature + sketched`.
    struct Block: Sendable, Equatable {
        /// The graph input's name.
        var name: String
        /// Values per row in the feed.
        var width: Int
        /// Leading values per row that are sketched (fewer than `width` past `maxFeatures`).
        var sketched: Int
        /// Bin edges shared by the input's features.
        var edges: [Double]
        /// The index of its first feature among all features.
        var firstFeature: Int
    }

    /// How the prediction of a row is read from the first output.
    enum Predictions: Sendable, Equatable {
        /// Not sketched (several outputs per row that are not class scores).
        case none
        /// The index of the largest of `classes` scores; edges 0.5, 1.5, … put class c in bin c.
        case argmax(classes: Int)
        /// The only value of the row (regression).
        case value
    }

    /// One block per graph input, in feed order.
    var blocks: [Block]
    /// How predictions are read.
    var predictions: Predictions
    /// Values per row of the first output.
    var outputWidth: Int
    /// Edges of the prediction sketch (empty for `.none`).
    var predictionEdges: [Double]

    /// Features over all blocks.
    var featureCount: Int { blocks.last.map { $0.firstFeature + $0.sketched } ?? 0 }

    /// The layout for `model` under `configuration`.
    init(model: Model, configuration: DriftConfiguration) throws(DriftError) {
        let shapes: [String: [Int]]
        do {
            shapes = try model.graph.inferShapes(batch: 1)
        } catch {
            throw DriftError(
                .unsupportedModel, "the shapes of model '\(model.metadata.name)' cannot be inferred", underlying: error)
        }
        var blocks: [Block] = []
        var features = 0
        var bins = 0
        for input in model.graph.inputs {
            // Feature names are `<input>[i]`; a report refuses names over 256 bytes or with control characters.
            guard input.name.utf8.count <= 240,
                !input.name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
            else {
                throw DriftError(
                    .unsupportedModel,
                    "input '\(input.name.prefix(80))' of model '\(model.metadata.name)' cannot name a drift feature")
            }
            let width = shapes[input.name]?.reduce(1, *) ?? 0
            let sketched = min(width, configuration.maxFeatures - features)
            let edges =
                configuration.inputEdges[input.name]
                ?? Self.edges(Self.quantizationRange(model, input.name) ?? configuration.fallbackRange, configuration.bins)
            blocks.append(Block(name: input.name, width: width, sketched: max(0, sketched), edges: edges, firstFeature: features))
            features += max(0, sketched)
            bins += max(0, sketched) * (edges.count + 1)
        }
        guard features > 0 else {
            throw DriftError(.unsupportedModel, "model '\(model.metadata.name)' has no input values to sketch")
        }
        guard bins <= DriftConfiguration.maxTotalBins else {
            throw DriftError(
                .unsupportedModel,
                "sketching model '\(model.metadata.name)' needs \(bins) bins, over \(DriftConfiguration.maxTotalBins); "
                    + "lower drift.maxFeatures or drift.bins")
        }
        self.blocks = blocks
        let output = model.graph.outputs.first
        outputWidth = output.flatMap { shapes[$0]?.reduce(1, *) } ?? 0
        switch outputWidth {
        case 1:
            predictions = .value
            predictionEdges =
                configuration.predictionEdges
                ?? Self.edges(
                    output.flatMap { Self.quantizationRange(model, $0) } ?? configuration.fallbackRange, configuration.bins)
        case 2...(HistogramSketch.maxEdges + 1) where model.metadata.task == "classification":
            predictions = .argmax(classes: outputWidth)
            predictionEdges = (1..<outputWidth).map { Double($0) - 0.5 }
        default:
            predictions = .none
            predictionEdges = []
        }
    }

    /// The names of the features, in order.
    var featureNames: [String] {
        blocks.flatMap { block in (0..<block.sketched).map { "\(block.name)[\($0)]" } }
    }

    // MARK: - Edges

    /// `bins` equal bins over `range` (bins + 1 edges); duplicates from rounding are dropped.
    static func edges(_ range: ClosedRange<Double>, _ bins: Int) -> [Double] {
        let low = range.lowerBound
        let span = range.upperBound - range.lowerBound
        var edges: [Double] = []
        edges.reserveCapacity(bins + 1)
        for k in 0...bins {
            let edge = k == bins ? range.upperBound : low + span * Double(k) / Double(bins)
            if let last = edges.last, edge <= last { continue }
            edges.append(edge)
        }
        return edges
    }

    /// The real range the uint8 codes of a statically quantized value cover, rounded to 4
    /// significant digits so float noise in the scale (255 × (1/255) ≠ 1) does not shift edges
    /// off round values; nil without static parameters for `value`.
    static func quantizationRange(_ model: Model, _ value: String) -> ClosedRange<Double>? {
        guard let spec = model.quantization, spec.mode == .static, let q = spec.activations[value] else { return nil }
        let low = rounded(Double(0 - q.zeroPoint) * Double(q.scale))
        let high = rounded(Double(255 - q.zeroPoint) * Double(q.scale))
        guard low.isFinite, high.isFinite, low < high else { return nil }
        return low...high
    }

    /// `x` rounded to 4 significant decimal digits (dividing by an exact power of ten, so 0.25
    /// and 1 stay exact).
    static func rounded(_ x: Double) -> Double {
        guard x != 0, x.isFinite else { return x }
        let exponent = Int((x.magnitude).log10Floor) - 3
        var power = 1.0
        for _ in 0..<abs(exponent) { power *= 10 }
        return exponent >= 0 ? (x / power).rounded() * power : (x * power).rounded() / power
    }
}

extension Double {
    /// ⌊log10(self)⌋ for a positive finite value, by counting decimal digits (no libm).
    fileprivate var log10Floor: Double {
        var value = self
        var exponent = 0.0
        while value >= 10 {
            value /= 10
            exponent += 1
        }
        while value < 1 {
            value *= 10
            exponent -= 1
        }
        return exponent
    }
}
