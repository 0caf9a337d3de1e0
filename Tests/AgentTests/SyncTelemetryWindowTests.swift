import Foundation
import Testing

@testable import Agent

/// `TelemetryWindow` and its latency sketch: counts, error rate, reset, and quantiles against
/// reference values.
///
/// References are NumPy 2.4 `np.percentile(x, [50, 95], method="lower") / 1000` of the same
/// data (the quantile the sketch defines); the tolerance is the sketch's bound, 1 % relative,
/// plus 1e-9 for floating-point rounding at bucket edges.
@Suite("Sync telemetry window")
struct SyncTelemetryWindowTests {
    static let tolerance = 0.01 + 1e-9

    static func close(_ value: Double, _ reference: Double) -> Bool {
        abs(value - reference) <= tolerance * reference
    }

    static func window(microseconds: [Double]) -> TelemetryWindow {
        let window = TelemetryWindow()
        for value in microseconds { window.recordSuccess(latency: .nanoseconds(Int64((value * 1000).rounded()))) }
        return window
    }

    /// A data set in microseconds with its reference p50 and p95 in milliseconds.
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var microseconds: [Double]
        var p50: Double
        var p95: Double
        var testDescription: String { name }
    }

    static let cases: [Case] = {
        // Integers: ((i * 7919) % 1000 + 1) * 37 µs, i < 2000.
        let scrambled: [Double] = (0..<2000).map { i in Double(((i * 7919) % 1000 + 1) * 37) }
        // Log-uniform from 1 µs to 100 s: 10^(i/200) µs, i < 1600.
        let logUniform: [Double] = (0..<1600).map { i in pow(10, Double(i) / 200) }
        // 950 fast (2 ms + i µs) and 50 slow (40 ms + 100 i µs): p95 is the last fast one.
        let fast: [Double] = (0..<950).map { i in 2000 + Double(i) }
        let slow: [Double] = (0..<50).map { i in 40000 + 100 * Double(i) }
        return [
            Case(name: "scrambled", microseconds: scrambled, p50: 18.5, p95: 35.15),
            Case(name: "log-uniform", microseconds: logUniform, p50: 9.885530947, p95: 39355.007545578),
            Case(name: "bimodal", microseconds: fast + slow, p50: 2.499, p95: 2.949),
        ]
    }()

    @Test("latency quantiles are within 1 % of NumPy's method='lower' percentiles", arguments: cases)
    func quantilesAgainstNumPy(_ reference: Case) {
        let snapshot = Self.window(microseconds: reference.microseconds).snapshotAndReset()
        #expect(snapshot.predictions == reference.microseconds.count)
        #expect(Self.close(snapshot.latencyP50Ms, reference.p50), "p50 \(snapshot.latencyP50Ms) vs \(reference.p50)")
        #expect(Self.close(snapshot.latencyP95Ms, reference.p95), "p95 \(snapshot.latencyP95Ms) vs \(reference.p95)")
    }

    @Test("hand-computed: 1 to 10 ms gives p50 = 5 ms and p95 = 9 ms (ranks 4 and 8 of 0...9)")
    func handComputed() {
        let snapshot = Self.window(microseconds: (1...10).map { Double($0) * 1000 }).snapshotAndReset()
        #expect(Self.close(snapshot.latencyP50Ms, 5))
        #expect(Self.close(snapshot.latencyP95Ms, 9))
    }

    @Test("every bucket reports a value within 1 % of each value it holds, from 1 µs to 1,000 s")
    func bucketBound() {
        var value = 1.0
        while value <= 1e9 {
            let reported = LatencySketch.representative(ofBucket: LatencySketch.bucket(ofMicroseconds: value))
            #expect(abs(reported - value) <= Self.tolerance * value, "\(value) µs reported as \(reported)")
            value *= 1.003
        }
        #expect(LatencySketch.bucketCount == 1038)
    }

    @Test("counts successes and failures, computes the error rate, and starts empty after a snapshot")
    func countsAndReset() {
        let window = TelemetryWindow()
        #expect(window.snapshotAndReset() == .init(predictions: 0, failures: 0, errorRate: 0, latencyP50Ms: 0, latencyP95Ms: 0))
        for _ in 0..<6 { window.recordSuccess(latency: .milliseconds(2)) }
        for _ in 0..<2 { window.recordFailure() }
        #expect(window.peek().predictions == 6)
        let first = window.snapshotAndReset()
        #expect(first.predictions == 6 && first.failures == 2)
        #expect(first.errorRate == 0.25)
        #expect(Self.close(first.latencyP50Ms, 2))
        window.recordFailure()
        let second = window.snapshotAndReset()
        #expect(second.predictions == 0 && second.failures == 1 && second.errorRate == 1)
        #expect(second.latencyP50Ms == 0 && second.latencyP95Ms == 0)
    }

    @Test("latencies outside the range are clamped: below 1 µs to about 1 µs, above 1,000 s to about 1,000 s")
    func clamping() {
        let window = TelemetryWindow()
        window.recordSuccess(latency: .zero)
        let fast = window.snapshotAndReset()
        #expect(fast.latencyP50Ms > 0 && fast.latencyP50Ms <= 0.001)
        window.recordSuccess(latency: .seconds(5000))
        let slow = window.snapshotAndReset()
        #expect(Self.close(slow.latencyP95Ms, 1_000_000))
    }

    @Test("concurrent recording from many tasks loses nothing")
    func concurrentRecording() async {
        let window = TelemetryWindow()
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for i in 0..<1000 {
                        if i % 10 == 0 {
                            window.recordFailure()
                        } else {
                            window.recordSuccess(latency: .microseconds(100 + worker))
                        }
                    }
                }
            }
        }
        let snapshot = window.snapshotAndReset()
        #expect(snapshot.predictions == 7200 && snapshot.failures == 800)
        #expect(snapshot.errorRate == 0.1)
    }
}
