/// The telemetry of one rollout phase, summed over its observation window: every device
/// telemetry window that started after the phase did is counted once, in the arm of the version
/// it ran. Gates judge these sums, not the latest two-second window of a few devices.
struct PhaseWindow: Sendable {
    /// Sums of one version's telemetry.
    struct Arm: Sendable {
        var predictions = 0
        var errors = 0.0
        var labels = 0
        var correct = 0.0
        /// The latest p95 of each device (a percentile cannot be summed).
        var p95: [String: Double] = [:]

        mutating func add(_ device: String, _ t: DeviceLiveStatus.TelemetrySummary) {
            predictions += t.predictions
            errors += t.errorRate * Double(t.predictions)
            if let accuracy = t.feedbackAccuracy, t.feedbackCount > 0 {
                labels += t.feedbackCount
                correct += accuracy * Double(t.feedbackCount)
            }
            if t.predictions > 0 { p95[device] = t.latencyP95Ms }
        }

        /// The arm's metrics; a metric with fewer than `minSamples` behind it is left out (unknown).
        func metrics(minSamples: Int) -> [HealthGate.Metric: Double] {
            var result: [HealthGate.Metric: Double] = [:]
            if predictions >= minSamples, predictions > 0 {
                result[.errorRate] = errors / Double(predictions)
                let latencies = p95.values.sorted()
                let middle = latencies.count / 2
                if !latencies.isEmpty {
                    result[.p95Latency] =
                        latencies.count % 2 == 1 ? latencies[middle] : (latencies[middle - 1] + latencies[middle]) / 2
                }
            }
            if labels >= minSamples, labels > 0 { result[.accuracy] = correct / Double(labels) }
            return result
        }
    }

    /// When the phase started (ms); telemetry sent before it is not counted.
    let since: Int64
    /// The time of the last telemetry counted, by device.
    private(set) var counted: [String: Int64] = [:]
    private(set) var candidate = Arm()
    private(set) var baseline = Arm()
    /// Candidate devices that reported in the window.
    private(set) var reporting: Set<String> = []

    init(since: Int64) {
        self.since = since
    }

    /// Counts the telemetry in `statuses` not counted yet.
    mutating func add(_ statuses: [DeviceLiveStatus], model: String, candidate version: String, baseline: String?) {
        for status in statuses {
            guard let t = status.telemetry, t.modelName == model, t.time > since,
                t.time > counted[status.device] ?? Int64.min
            else { continue }
            counted[status.device] = t.time
            if t.modelVersion == version {
                candidate.add(status.device, t)
                reporting.insert(status.device)
            } else if let baseline, t.modelVersion == baseline {
                self.baseline.add(status.device, t)
            }
        }
    }

    /// What the gates see.
    func health(minSamples: Int) -> PhaseHealth {
        PhaseHealth(
            reportingDevices: reporting.count, candidate: candidate.metrics(minSamples: minSamples),
            baseline: baseline.metrics(minSamples: minSamples))
    }
}
