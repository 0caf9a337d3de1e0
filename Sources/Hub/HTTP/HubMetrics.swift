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

    /// The fleet monitor's counters: hand them to `FleetMonitor(metrics:)`.
    public let fleet: FleetMetrics

    /// Metrics registered in `registry` (a new one by default).
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        fleet = FleetMetrics(registry: registry)
    }

    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
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

/// What `FleetMonitor` received and wrote, as Prometheus counters (no device labels):
/// `starling_hub_fleet_messages_received_total`, `starling_hub_fleet_messages_total{outcome}`
/// (applied, unknown_device, malformed, ignored), `starling_hub_fleet_statuses_flushed_total`,
/// `starling_hub_fleet_flushes_total`, `starling_hub_fleet_flush_failures_total` and the gauge
/// `starling_hub_fleet_statuses_pending` (changed in memory, not written yet).
public final class FleetMetrics: Sendable {
    private let receivedTotal: Counter
    private let applied: Counter
    private let unknownDevice: Counter
    private let malformed: Counter
    private let ignored: Counter
    private let flushedTotal: Counter
    private let flushes: Counter
    private let flushFailures: Counter
    private let pendingGauge: Gauge

    init(registry: PrometheusCollectorRegistry) {
        func counter(_ metric: String, _ help: String, _ labels: [(String, String)] = []) -> Counter {
            registry.makeCounter(descriptor: HubMetrics.name(metric, "total", help), labels: labels)
        }
        receivedTotal = counter("fleet_messages_received", "Status and telemetry messages the fleet monitor received.")
        let outcome = "Fleet monitor messages by outcome."
        applied = counter("fleet_messages", outcome, [("outcome", "applied")])
        unknownDevice = counter("fleet_messages", outcome, [("outcome", "unknown_device")])
        malformed = counter("fleet_messages", outcome, [("outcome", "malformed")])
        ignored = counter("fleet_messages", outcome, [("outcome", "ignored")])
        flushedTotal = counter("fleet_statuses_flushed", "Device statuses written to the database by the fleet monitor.")
        flushes = counter("fleet_flushes", "Fleet monitor flushes that wrote statuses, one transaction each.")
        flushFailures = counter("fleet_flush_failures", "Fleet monitor flushes that failed; their statuses are retried.")
        pendingGauge = registry.makeGauge(
            descriptor: HubMetrics.name("fleet_statuses_pending", "", "Device statuses changed in memory, not written yet."))
    }

    func received(_ outcome: FleetMonitor.Outcome) {
        receivedTotal.increment()
        switch outcome {
        case .applied: applied.increment()
        case .unknownDevice: unknownDevice.increment()
        case .malformed: malformed.increment()
        case .ignored: ignored.increment()
        }
    }

    func flushed(_ count: Int) {
        flushedTotal.increment(by: Int64(count))
        flushes.increment()
    }

    func flushFailed() { flushFailures.increment() }

    func pending(_ count: Int) { pendingGauge.set(Int64(count)) }
}
