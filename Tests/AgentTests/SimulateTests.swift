import Core
import Foundation
import Testing

@testable import Agent

@Suite("Simulated fleet")
struct SimulateTests {
    // MARK: - Behaviours

    @Test("behaviours parse per version, with * as the default for every other version and for keys not given")
    func behaviourParsing() throws {
        let table = try BehaviourTable(parsing: ["2.0.0=accuracy:0.6,p95:4", "*=accuracy:0.95,error:0.01,rate:3"])
        #expect(table.behaviour(of: "1.0.0") == VersionBehaviour(accuracy: 0.95, errorRate: 0.01, requestsPerSecond: 3))
        #expect(
            table.behaviour(of: "2.0.0")
                == VersionBehaviour(accuracy: 0.6, errorRate: 0.01, latencyP50Ms: 1, latencyP95Ms: 4, requestsPerSecond: 3))
        // A p95 below the default median moves the median under it.
        #expect(try BehaviourTable(parsing: ["1.0.0=p95:0.5"]).behaviour(of: "1.0.0").latencyP50Ms == 0.25)
    }

    @Test(
        "malformed behaviours are refused, naming the flag",
        arguments: ["1.0.0", "=accuracy:1", "1.0.0=speed:3", "1.0.0=accuracy:1.5", "1.0.0=p50:5,p95:2", "1.0.0=error:x"])
    func behaviourRefusals(spec: String) {
        #expect(throws: SimulationError.self) { try BehaviourTable(parsing: [spec]) }
        do {
            _ = try BehaviourTable(parsing: [spec])
        } catch {
            #expect(error.message.hasPrefix("--behaviour"))
        }
    }

    // MARK: - Traffic

    @Test("the same seed gives the same requests; another device differs")
    func trafficIsSeeded() {
        let behaviour = VersionBehaviour(errorRate: 0.1, requestsPerSecond: 20, feedbackShare: 0.5)
        var a = SimulatedTraffic(seed: 7, index: 3, noise: 0.02)
        var b = SimulatedTraffic(seed: 7, index: 3, noise: 0.02)
        var c = SimulatedTraffic(seed: 7, index: 4, noise: 0.02)
        let first = a.requests(over: 10, behaviour: behaviour)
        #expect(first == b.requests(over: 10, behaviour: behaviour))
        #expect(first != c.requests(over: 10, behaviour: behaviour))
    }

    @Test("over many requests, rates, accuracy and latency quantiles match the device's behaviour")
    func trafficStatistics() {
        let behaviour = VersionBehaviour(
            accuracy: 0.8, errorRate: 0.05, latencyP50Ms: 2, latencyP95Ms: 6, requestsPerSecond: 50, feedbackShare: 0.3)
        var traffic = SimulatedTraffic(seed: 1, index: 0, noise: 0.02)
        let own = traffic.personal(behaviour)
        var requests: [SimulatedRequest] = []
        for _ in 0..<200 { requests += traffic.requests(over: 10, behaviour: behaviour) }
        // 100,000 requests expected; the counts' standard deviations are about 0.3 %, 0.07 and 0.25 %.
        #expect(abs(Double(requests.count) / 100_000 - 1) < 0.02)
        let failures = requests.filter(\.failed).count
        #expect(abs(Double(failures) / Double(requests.count) - own.errorRate) < 0.005)
        let answered = requests.filter { !$0.failed }
        let labelled = answered.compactMap(\.labelMatches)
        #expect(abs(Double(labelled.count) / Double(answered.count) - 0.3) < 0.01)
        #expect(abs(Double(labelled.filter { $0 }.count) / Double(labelled.count) - own.accuracy) < 0.01)
        let latencies = answered.map { Double($0.latencyMicroseconds) / 1000 }.sorted()
        #expect(abs(latencies[latencies.count / 2] / own.latencyP50Ms - 1) < 0.02)
        #expect(abs(latencies[latencies.count * 95 / 100] / own.latencyP95Ms - 1) < 0.03)
    }

    @Test("device offsets stay within the noise, and a version without errors stays without errors")
    func personalOffsets() {
        let behaviour = VersionBehaviour(accuracy: 0.9, errorRate: 0)
        for index in 0..<100 {
            let own = SimulatedTraffic(seed: 3, index: index, noise: 0.05).personal(behaviour)
            #expect(abs(own.accuracy - 0.9) <= 0.05 + 1e-12)
            #expect(own.errorRate == 0)
            #expect(own.latencyP50Ms >= 0.5 - 1e-12 && own.latencyP50Ms <= 1.5 + 1e-12)
        }
    }

    @Test("low rates still produce about the expected number of requests over time")
    func lowRates() {
        var traffic = SimulatedTraffic(seed: 5, index: 0, noise: 0)
        let behaviour = VersionBehaviour(requestsPerSecond: 0.1)
        var total = 0
        for _ in 0..<1000 { total += traffic.requests(over: 1, behaviour: behaviour).count }
        #expect((70...130).contains(total))
    }

    // MARK: - Devices

    @Test("device ids are the prefix and a number from 1, four digits or more")
    func numbering() throws {
        #expect(
            try SimulatedDevice.numbered(prefix: "sim-", count: 3).map(\.id.rawValue) == ["sim-0001", "sim-0002", "sim-0003"])
        let many = try SimulatedDevice.numbered(prefix: "d", count: 10_000)
        #expect(many.first?.id.rawValue == "d00001" && many.last?.id.rawValue == "d10000")
        let shared = try SimulatedDevice.numbered(prefix: "sim-", count: 2, password: "secret")
        #expect(shared.map(\.username) == ["sim-0001", "sim-0002"])
        #expect(throws: SimulationError.self) { try SimulatedDevice.numbered(prefix: "bad/", count: 1) }
        #expect(throws: SimulationError.self) { try SimulatedDevice.numbered(prefix: "sim-", count: 0) }
    }

    @Test("the progress line and JSON summary name every count")
    func progressOutput() throws {
        let progress = SimulationProgress(
            devices: 3, started: 3, connected: 2, versions: ["1.0.0": 1, "2.0.0": 2], updating: 1, failed: 0, refused: 1,
            startFailures: 0, elapsedSeconds: 12.4, allConnectedSeconds: nil,
            rollouts: ["2.0.0": .init(committed: 2, firstDownloadSeconds: 3, lastCommitSeconds: 5, spanSeconds: 2)],
            rssBytes: 3 << 20, rssPerDeviceBytes: 1 << 20, threads: 9, fileDescriptors: 30, cpuSeconds: 1.5)
        #expect(progress.line == "12s started 3/3 connected 2 updating 1 failed 0 refused 1 | 1.0.0=1 2.0.0=2")
        let decoded = try JSONDecoder().decode(SimulationProgress.self, from: Data(progress.json().utf8))
        #expect(decoded == progress)
    }

    // MARK: - The fleet on the in-memory broker

    @Test("a rollout to simulated devices on the in-memory broker: valid ones update, bad ones are refused")
    func inMemoryRollout() async throws {
        let broker = InMemoryBroker()
        try await withTemporaryDirectory { directory in
            try await runSimulatedRollout(
                SimulationScenarioHarness(
                    makeTransport: { id, will in InMemoryTransport(broker: broker, clientID: id, options: .init(will: will)) },
                    directory: directory, devices: 6))
        }
    }
}
