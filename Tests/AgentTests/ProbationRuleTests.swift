import Testing

@testable import Agent

@Suite("Probation rule")
struct ProbationRuleTests {
    static func snapshot(ok: Int, failed: Int, latency: Int64 = 100) -> VersionHealth.Snapshot {
        VersionHealth.Snapshot(successes: ok, failures: failed, recentLatencies: Array(repeating: latency, count: ok))
    }

    @Test("fails on an error rate rise over the limit or a p95 over the ratio; passes without enough requests")
    func verdicts() {
        let rule = ProbationRule(maxErrorRateIncrease: 0.05, maxLatencyRatio: 2, minRequests: 20)
        let baseline = Self.snapshot(ok: 95, failed: 5)  // 5 %
        #expect(rule.verdict(candidate: Self.snapshot(ok: 90, failed: 10), baseline: baseline) == nil)  // +5 %: at the limit
        #expect(rule.verdict(candidate: Self.snapshot(ok: 89, failed: 11), baseline: baseline)?.contains("error rate") == true)
        #expect(rule.verdict(candidate: Self.snapshot(ok: 100, failed: 0, latency: 200), baseline: baseline) == nil)
        #expect(rule.verdict(candidate: Self.snapshot(ok: 100, failed: 0, latency: 201), baseline: baseline)?.contains("p95") == true)
        #expect(rule.verdict(candidate: Self.snapshot(ok: 0, failed: 19), baseline: baseline) == nil)
        #expect(rule.verdict(candidate: Self.snapshot(ok: 0, failed: 20), baseline: VersionHealth.Snapshot()) != nil)
    }

    @Test("the health ring keeps the newest latencies; p95 is the nearest rank")
    func ring() {
        let health = VersionHealth(capacity: 100)
        for value in 1...250 { health.recordSuccess(model: "m", version: "1", latencyMicroseconds: Int64(value)) }
        health.recordFailure(model: "m", version: "1")
        let snapshot = health.snapshot(model: "m", version: "1")
        #expect(snapshot.successes == 250 && snapshot.failures == 1)
        #expect(Set(snapshot.recentLatencies) == Set((151...250).map(Int64.init)))
        #expect(snapshot.latencyP95 == 245)  // ceil(0.95 × 100) = 95th of 151...250
        #expect(health.snapshot(model: "m", version: "2") == VersionHealth.Snapshot())
    }
}
