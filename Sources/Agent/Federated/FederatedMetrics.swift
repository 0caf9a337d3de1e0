import Prometheus

/// The Prometheus metrics of the federated client, registered in the registry `/metrics`
/// exposes (the serving metrics' one in the agent).
public final class FederatedMetrics: Sendable {
    /// Task frames received for this device (malformed ones included).
    public let received: Counter
    /// Tasks answered with an update (queued for sending).
    public let answered: Counter
    /// Tasks declined (budget, deadline, too few examples, model, disabled).
    public let skipped: Counter
    /// Tasks whose local training or encoding failed.
    public let failed: Counter
    /// Task frames that could not be read.
    public let malformed: Counter
    /// Task frames ignored as repeats of a task already handled.
    public let duplicates: Counter
    /// Wall time spent in local training and evaluation, seconds.
    public let trainingSeconds: Counter

    /// Metrics registered in `registry`.
    public init(registry: PrometheusCollectorRegistry) {
        func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "starling", subsystem: "agent", metricName: metric, unitName: unit, helpText: help)
        }
        let outcome = name("federated_tasks", "total", "Federated tasks handled, by outcome.")
        received = registry.makeCounter(
            descriptor: name("federated_tasks_received", "total", "Federated task frames received for this device."))
        answered = registry.makeCounter(descriptor: outcome, labels: [("outcome", "answered")])
        skipped = registry.makeCounter(descriptor: outcome, labels: [("outcome", "skipped")])
        failed = registry.makeCounter(descriptor: outcome, labels: [("outcome", "failed")])
        malformed = registry.makeCounter(descriptor: outcome, labels: [("outcome", "malformed")])
        duplicates = registry.makeCounter(descriptor: outcome, labels: [("outcome", "duplicate")])
        trainingSeconds = registry.makeCounter(
            descriptor: name("federated_training", "seconds_total", "Wall time spent in local federated training."))
    }
}
