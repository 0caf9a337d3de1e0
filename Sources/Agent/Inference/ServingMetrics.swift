import Prometheus
import Synchronization

/// Every Prometheus metric of the inference service, declared in one place. Label values are
/// low-cardinality: route templates (never raw paths), status codes, model names and versions.
public final class ServingMetrics: Sendable {
    /// The registry `GET /metrics` exposes.
    public let registry: PrometheusCollectorRegistry

    private struct RequestKey: Hashable {
        var route: String
        var status: Int
    }

    private let requestCounters = Mutex<[RequestKey: Counter]>([:])
    private let requestDurations = Mutex<[String: DurationHistogram]>([:])
    private let modelSeries = Mutex<[String: ModelSeries]>([:])
    private let activeInfo = Mutex<[String: (version: String, gauge: Gauge)]>([:])
    private let feedbackCounters = Mutex<[String: Counter]>([:])
    /// Predictions the prediction log refused (full or closing).
    let predictionsDropped: Counter

    /// Per model version: rows, batch sizes, run time, refusals.
    struct ModelSeries: Sendable {
        var rows: Counter
        var batchSize: ValueHistogram
        var duration: DurationHistogram
        var rejected: Counter
    }

    static let requestBuckets: [Duration] = [
        .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(100), .milliseconds(250), .seconds(1),
    ]
    static let runBuckets: [Duration] = [
        .microseconds(5), .microseconds(10), .microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250),
        .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100),
    ]
    static let batchBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256]

    /// Metrics registered in `registry` (a new one by default).
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        predictionsDropped = registry.makeCounter(
            descriptor: Self.name(
                "predictions_dropped", "total", "Predictions the prediction log refused (queue full or closing)."))
    }

    private static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "starling", subsystem: "agent", metricName: metric, unitName: unit, helpText: help)
    }

    /// Counts one HTTP request answered with `status` on the route template `route`, which took `duration`.
    func recordRequest(route: String, status: Int, duration: Duration) {
        let key = RequestKey(route: route, status: status)
        let counter = requestCounters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = registry.makeCounter(
                descriptor: Self.name("http_requests", "total", "HTTP requests by route template and status code."),
                labels: [("route", route), ("status", String(status))])
            counters[key] = counter
            return counter
        }
        counter.increment()
        let histogram = requestDurations.withLock { histograms in
            if let histogram = histograms[route] { return histogram }
            let histogram = registry.makeDurationHistogram(
                descriptor: Self.name(
                    "http_request_duration", "seconds", "Time from a complete request to its response, by route template."),
                labels: [("route", route)], buckets: Self.requestBuckets)
            histograms[route] = histogram
            return histogram
        }
        histogram.record(duration)
    }

    /// The series of one model version.
    func series(model: String, version: String) -> ModelSeries {
        modelSeries.withLock { all in
            let key = model + "\u{0}" + version
            if let series = all[key] { return series }
            let labels = [("model", model), ("version", version)]
            let series = ModelSeries(
                rows: registry.makeCounter(descriptor: Self.name("inference_rows", "total", "Samples inferred."), labels: labels),
                batchSize: registry.makeValueHistogram(
                    descriptor: Self.name("inference_batch", "rows", "Samples per int8 run (micro-batch size)."), labels: labels,
                    buckets: Self.batchBuckets),
                duration: registry.makeDurationHistogram(
                    descriptor: Self.name("inference_duration", "seconds", "Time of one int8 run (a micro-batch)."),
                    labels: labels,
                    buckets: Self.runBuckets),
                rejected: registry.makeCounter(
                    descriptor: Self.name("inference_rejected", "total", "Requests refused because the batch queue was full."),
                    labels: labels))
            all[key] = series
            return series
        }
    }

    /// Marks `version` as the active version of `model` (`starling_agent_model_info` is 1 for it only).
    func setActive(model: String, version: String) {
        activeInfo.withLock { info in
            if let old = info[model] {
                if old.version == version { return }
                registry.unregisterGauge(old.gauge)
            }
            let gauge = registry.makeGauge(
                descriptor: Self.name("model", "info", "The active version of each served model (value 1)."),
                labels: [("model", model), ("version", version)])
            gauge.set(to: 1.0)
            info[model] = (version, gauge)
        }
    }

    /// Counts one feedback request by its result (`attached`, `unknownPrediction`, ...).
    func recordFeedback(_ result: String) {
        let counter = feedbackCounters.withLock { counters in
            if let counter = counters[result] { return counter }
            let counter = registry.makeCounter(
                descriptor: Self.name("feedback", "total", "Feedback requests by result."), labels: [("result", result)])
            counters[result] = counter
            return counter
        }
        counter.increment()
    }

    /// The exposition text of every metric.
    public func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }
}
