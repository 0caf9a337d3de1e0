import Core
import Testing

@testable import Hub

@Suite("Rollout cohorts and fleet aggregates")
struct RolloutCohortTests {
    static let devices = (1...40).map { "dev-\($0)" }

    @Test("cohorts grow monotonically with the share, never empty above 0 %, and differ between rollouts")
    func cohorts() {
        var previous: Set<String> = []
        for share in [0.05, 0.25, 0.5, 1.0] {
            let cohort = Set(RolloutCohort.select(Self.devices, share: share, salt: "rollout-a"))
            #expect(cohort.count == Int((Double(Self.devices.count) * share).rounded(.up)))
            #expect(previous.isSubset(of: cohort), "a device on the new version keeps it as the share grows")
            previous = cohort
        }
        #expect(RolloutCohort.select(["only"], share: 0.05, salt: "x") == ["only"])
        #expect(RolloutCohort.select(Self.devices, share: 0, salt: "x").isEmpty)
        let a = RolloutCohort.select(Self.devices, share: 0.25, salt: "rollout-a")
        let b = RolloutCohort.select(Self.devices, share: 0.25, salt: "rollout-b")
        #expect(a != b)
        #expect(RolloutCohort.select(Self.devices.reversed(), share: 0.25, salt: "rollout-a") == a, "input order does not matter")
    }

    static func status(_ device: String, version: String, time: Int64, predictions: Int, errorRate: Double, p95: Double,
                       labels: Int = 0, accuracy: Double? = nil) -> DeviceLiveStatus {
        var status = DeviceLiveStatus(device: device)
        status.telemetry = DeviceLiveStatus.TelemetrySummary(
            Telemetry(
                id: "t-\(device)", time: time, windowMs: 60_000, modelName: try! ModelName("digits"), modelVersion: version,
                predictions: predictions, errorRate: errorRate, latencyP50Ms: p95 / 2, latencyP95Ms: p95, feedbackCount: labels,
                feedbackAccuracy: accuracy, cpuPercent: 1, rssBytes: 1, diskUsedBytes: 1))
        return status
    }

    @Test("aggregates weight error rate by predictions and accuracy by labels; p95 is the devices' median; old windows are left out")
    func aggregates() {
        let statuses = [
            Self.status("a", version: "2.0.0", time: 1000, predictions: 100, errorRate: 0.10, p95: 10, labels: 10, accuracy: 0.9),
            Self.status("b", version: "2.0.0", time: 1000, predictions: 300, errorRate: 0.02, p95: 30, labels: 30, accuracy: 0.5),
            Self.status("c", version: "2.0.0", time: 1000, predictions: 100, errorRate: 0.00, p95: 20),
            Self.status("d", version: "1.0.0", time: 1000, predictions: 50, errorRate: 0.04, p95: 8),
            Self.status("e", version: "2.0.0", time: 10, predictions: 999, errorRate: 1, p95: 999),  // before the window
        ]
        let health = PhaseHealth.aggregate(statuses, model: "digits", candidate: "2.0.0", baseline: "1.0.0", since: 500)
        #expect(health.reportingDevices == 3)
        let errorRate: Double = (0.10 * 100 + 0.02 * 300) / 500
        let accuracy: Double = (0.9 * 10 + 0.5 * 30) / 40
        #expect(abs((health.candidate[.errorRate] ?? -1) - errorRate) < 1e-12)
        #expect(health.candidate[.p95Latency] == 20)
        #expect(abs((health.candidate[.accuracy] ?? -1) - accuracy) < 1e-12)
        #expect(health.baseline[.errorRate] == 0.04 && health.baseline[.p95Latency] == 8 && health.baseline[.accuracy] == nil)
        let none = PhaseHealth.aggregate(statuses, model: "other", candidate: "2.0.0", baseline: nil, since: 0)
        #expect(none.reportingDevices == 0 && none.candidate.isEmpty && none.baseline.isEmpty)
    }
}
