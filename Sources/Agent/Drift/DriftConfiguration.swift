import Core

/// Settings of drift sketching: `Sendable`, with defaults, validated once by `validate()`.
///
/// The agent configuration maps `drift.*` keys onto it (see `docs/drift.md`).
public struct DriftConfiguration: Sendable, Equatable {
    /// Whether the agent sketches inputs and predictions at all (`drift.enabled`).
    public var enabled: Bool
    /// The length of one window (`drift.windowSeconds`); windows are aligned to multiples of it
    /// since the Unix epoch, so every device's windows line up on the hub.
    public var windowLength: Duration
    /// Equal-width bins per feature when the edges come from a range (`drift.bins`).
    public var bins: Int
    /// Explicit bin edges per graph input name, shared by every element of that input
    /// (`drift.edges.<input>`); they win over the model's quantization range.
    public var inputEdges: [String: [Double]]
    /// Explicit bin edges of a single-value (regression) output (`drift.predictionEdges`).
    public var predictionEdges: [Double]?
    /// The range split into `bins` when neither explicit edges nor a static quantization range
    /// is known (`drift.fallbackMin`, `drift.fallbackMax`); 0…1 fits inputs a feature pipeline scaled.
    public var fallbackRange: ClosedRange<Double>
    /// The most features sketched per model; elements past it (in input order) are not sketched
    /// (`drift.maxFeatures`).
    public var maxFeatures: Int
    /// How often the service closes due windows, reports them and saves open ones
    /// (`drift.flushSeconds`); a crash loses at most this much of the open window.
    public var flushInterval: Duration

    /// The most bins one report may carry over all its features (keeps it far below the 1 MiB
    /// message limit).
    public static let maxTotalBins = 65_536

    /// Defaults: 5-minute windows, 16 bins, 1024 features, a flush every 30 seconds.
    public init(
        enabled: Bool = true, windowLength: Duration = .seconds(300), bins: Int = 16, inputEdges: [String: [Double]] = [:],
        predictionEdges: [Double]? = nil, fallbackRange: ClosedRange<Double> = 0...1, maxFeatures: Int = 1024,
        flushInterval: Duration = .seconds(30)
    ) {
        self.enabled = enabled
        self.windowLength = windowLength
        self.bins = bins
        self.inputEdges = inputEdges
        self.predictionEdges = predictionEdges
        self.fallbackRange = fallbackRange
        self.maxFeatures = maxFeatures
        self.flushInterval = flushInterval
    }

    /// The window length in whole milliseconds.
    var windowMilliseconds: Int64 {
        let (seconds, attoseconds) = windowLength.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Checks every setting; the error names the key at fault.
    public func validate() throws(DriftError) {
        let fail = { (key: String, why: String) in DriftError(.invalidConfiguration, "drift.\(key) \(why)") }
        guard windowLength >= .seconds(1), windowLength <= .seconds(7 * 86_400) else {
            throw fail("windowSeconds", "is \(windowLength); give 1 second to 7 days")
        }
        guard (1...HistogramLimits.maxBins).contains(bins) else {
            throw fail("bins", "is \(bins); give 1 to \(HistogramLimits.maxBins)")
        }
        for (input, edges) in inputEdges.sorted(by: { $0.key < $1.key }) {
            if let why = HistogramLimits.problem(with: edges) { throw fail("edges.\(input)", why) }
        }
        if let predictionEdges, let why = HistogramLimits.problem(with: predictionEdges) {
            throw fail("predictionEdges", why)
        }
        guard fallbackRange.lowerBound.isFinite, fallbackRange.upperBound.isFinite,
            fallbackRange.lowerBound < fallbackRange.upperBound
        else {
            throw fail("fallbackMin", "and drift.fallbackMax must be finite with min below max")
        }
        guard (1...4096).contains(maxFeatures) else { throw fail("maxFeatures", "is \(maxFeatures); give 1 to 4096") }
        guard flushInterval >= .seconds(1) else { throw fail("flushSeconds", "is \(flushInterval); give at least 1 second") }
    }
}

/// The limits `HistogramSketch` puts on edges, checked before a sketch is built.
enum HistogramLimits {
    /// The most bins a range is split into (one fewer than the most edges a sketch may have).
    static let maxBins = HistogramSketch.maxEdges - 1

    /// Why `edges` cannot make a sketch, or nil when they can.
    static func problem(with edges: [Double]) -> String? {
        guard !edges.isEmpty, edges.count <= HistogramSketch.maxEdges else {
            return "has \(edges.count) edges; give 1 to \(HistogramSketch.maxEdges)"
        }
        guard edges.allSatisfy(\.isFinite), zip(edges, edges.dropFirst()).allSatisfy({ $0 < $1 }) else {
            return "must be finite and strictly increasing"
        }
        return nil
    }
}
