import Prometheus
import Synchronization

/// Every Prometheus metric of the hub, declared in one place. Labels are low-cardinality: route
/// templates (never raw paths, never device ids), methods and status codes.
public final class HubMetrics: Sendable {
    /// The registry `GET /metrics` exposes.
    public let registry: PrometheusCollectorRegistry

    private struct RequestKey: Hashable {
        var route: String
        var method: String
        var status: Int
    }

    private let requestCounters = Mutex<[RequestKey: Counter]>([:])
    private let requestDurations = Mutex<[String: DurationHistogram]>([:])

    static let requestBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
    ]

    /// Metrics registered in `registry` (a new one by default).
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    private static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "starling", subsystem: "hub", metricName: metric, unitName: unit, helpText: help)
    }

    /// Counts one HTTP request on route template `route` answered with `status`, which took `duration`.
    func recordRequest(route: String, method: String, status: Int, duration: Duration) {
        let key = RequestKey(route: route, method: method, status: status)
        let counter = requestCounters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = registry.makeCounter(
                descriptor: Self.name("http_requests", "total", "HTTP requests by route template, method and status code."),
                labels: [("route", route), ("method", method), ("status", String(status))])
            counters[key] = counter
            return counter
        }
        counter.increment()
        let histogram = requestDurations.withLock { histograms in
            if let histogram = histograms[route] { return histogram }
            let histogram = registry.makeDurationHistogram(
                descriptor: Self.name("http_request_duration", "seconds", "Time to answer a request, by route template."),
                labels: [("route", route)], buckets: Self.requestBuckets)
            histograms[route] = histogram
            return histogram
        }
        histogram.record(duration)
    }

    /// The exposition text of every metric.
    func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
