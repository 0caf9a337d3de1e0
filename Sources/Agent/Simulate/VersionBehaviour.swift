/// How a simulated model version behaves: what its requests, labels and latencies look like,
/// and so what its telemetry and its probation show.
public struct VersionBehaviour: Sendable, Equatable {
    /// Share of labelled predictions whose label equals the predicted class (0...1).
    public var accuracy: Double
    /// Share of prediction requests that fail (0...1).
    public var errorRate: Double
    /// Median latency of an answered prediction, milliseconds.
    public var latencyP50Ms: Double
    /// 95th-percentile latency, milliseconds (at least the median).
    public var latencyP95Ms: Double
    /// Prediction requests per second.
    public var requestsPerSecond: Double
    /// Share of answered predictions that get a label (0...1).
    public var feedbackShare: Double

    /// A behaviour; the defaults are a healthy model (90 % accurate, no errors, 1 ms median).
    public init(
        accuracy: Double = 0.9, errorRate: Double = 0, latencyP50Ms: Double = 1, latencyP95Ms: Double = 2,
        requestsPerSecond: Double = 1, feedbackShare: Double = 0.1
    ) {
        self.accuracy = accuracy
        self.errorRate = errorRate
        self.latencyP50Ms = latencyP50Ms
        self.latencyP95Ms = latencyP95Ms
        self.requestsPerSecond = requestsPerSecond
        self.feedbackShare = feedbackShare
    }

    /// Checks the ranges; the error names `flag` and the key.
    public func validate(flag: String) throws(SimulationError) {
        func fail(_ key: String, _ why: String) -> SimulationError {
            SimulationError(.invalidSetting, "\(flag): \(key) \(why)")
        }
        for (key, value) in [("accuracy", accuracy), ("error", errorRate), ("feedback", feedbackShare)]
        where !(0...1).contains(value) {
            throw fail(key, "must be in 0...1, not \(value)")
        }
        guard latencyP50Ms > 0, latencyP50Ms.isFinite else { throw fail("p50", "must be a positive number of ms") }
        guard latencyP95Ms >= latencyP50Ms, latencyP95Ms.isFinite else {
            throw fail("p95", "must be at least p50 (\(latencyP50Ms) ms), not \(latencyP95Ms)")
        }
        guard requestsPerSecond >= 0, requestsPerSecond <= 10_000 else {
            throw fail("rate", "must be in 0...10000 requests per second, not \(requestsPerSecond)")
        }
    }
}

/// Behaviours by model version, with one for every version not listed.
///
/// Written as `VERSION=KEY:VALUE,...` (repeatable), keys `accuracy`, `error`, `p50`, `p95` (ms),
/// `rate` (requests per second) and `feedback` (labelled share); `*` stands for every other
/// version. Keys not given keep the `*` behaviour's values (the defaults without one). A `p95`
/// without `p50` sets the median to half of it, when the median would otherwise exceed it.
public struct BehaviourTable: Sendable, Equatable {
    /// Behaviours of named versions.
    public var versions: [String: VersionBehaviour]
    /// The behaviour of every other version.
    public var fallback: VersionBehaviour

    /// A table.
    public init(versions: [String: VersionBehaviour] = [:], fallback: VersionBehaviour = VersionBehaviour()) {
        self.versions = versions
        self.fallback = fallback
    }

    /// The behaviour of `version`.
    public func behaviour(of version: String) -> VersionBehaviour {
        versions[version] ?? fallback
    }

    /// Parses `--behaviour` values; the `*` entry applies first, whatever the order.
    public init(parsing specs: [String]) throws(SimulationError) {
        var parsed: [(String, [(String, Double)])] = []
        for spec in specs { parsed.append(try Self.split(spec)) }
        var fallback = VersionBehaviour()
        for (version, pairs) in parsed where version == "*" {
            fallback = try Self.apply(pairs, to: fallback, spec: "*")
        }
        var versions: [String: VersionBehaviour] = [:]
        for (version, pairs) in parsed where version != "*" {
            versions[version] = try Self.apply(pairs, to: versions[version] ?? fallback, spec: version)
        }
        self.init(versions: versions, fallback: fallback)
    }

    private static func split(_ spec: String) throws(SimulationError) -> (String, [(String, Double)]) {
        let flag = "--behaviour \(spec)"
        guard let equals = spec.firstIndex(of: "="), equals != spec.startIndex else {
            throw SimulationError(.invalidSetting, "\(flag): write VERSION=KEY:VALUE,... (e.g. 2.0.0=accuracy:0.6,p95:4)")
        }
        let version = String(spec[..<equals])
        var pairs: [(String, Double)] = []
        for item in spec[spec.index(after: equals)...].split(separator: ",") {
            let parts = item.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let value = Double(parts[1]) else {
                throw SimulationError(.invalidSetting, "\(flag): '\(item)' is not KEY:NUMBER")
            }
            pairs.append((String(parts[0]), value))
        }
        return (version, pairs)
    }

    private static func apply(_ pairs: [(String, Double)], to base: VersionBehaviour, spec: String) throws(SimulationError)
        -> VersionBehaviour
    {
        var behaviour = base
        var medianGiven = false
        for (key, value) in pairs {
            switch key {
            case "accuracy": behaviour.accuracy = value
            case "error": behaviour.errorRate = value
            case "p50":
                behaviour.latencyP50Ms = value
                medianGiven = true
            case "p95": behaviour.latencyP95Ms = value
            case "rate": behaviour.requestsPerSecond = value
            case "feedback": behaviour.feedbackShare = value
            default:
                throw SimulationError(
                    .invalidSetting, "--behaviour \(spec): unknown key '\(key)' (accuracy, error, p50, p95, rate, feedback)")
            }
        }
        if !medianGiven && behaviour.latencyP50Ms > behaviour.latencyP95Ms { behaviour.latencyP50Ms = behaviour.latencyP95Ms / 2 }
        try behaviour.validate(flag: "--behaviour \(spec)")
        return behaviour
    }
}
