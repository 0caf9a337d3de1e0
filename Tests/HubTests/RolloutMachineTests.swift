import Foundation
import Testing

@testable import Hub

@Suite("Rollout gates and state machine")
struct RolloutMachineTests {
    /// Gate text, then (candidate, baseline) pairs with the expected verdict.
    static let gates: [(String, Double?, Double?, Bool?)] = [
        ("error_rate <= baseline + 0.01", 0.03, 0.02, true),
        ("error_rate <= baseline + 0.01", 0.031, 0.02, false),
        ("p95_latency <= 1.2 * baseline", 12, 10, true),
        ("p95_latency <= 1.2*baseline", 12.5, 10, false),
        ("accuracy >= baseline - 0.02", 0.93, 0.95, true),
        ("accuracy >= baseline-0.02", 0.92, 0.95, false),
        ("rollbacks <= 0", 0, nil, true),
        ("rollbacks < 1", 1, nil, false),
        ("accuracy >= baseline", nil, 0.9, nil),
        ("accuracy >= baseline", 0.9, nil, nil),
    ]

    @Test("gates parse, print back, and judge candidate against baseline", arguments: 0..<gates.count)
    func gate(index: Int) throws {
        let (text, candidate, baseline, expected) = Self.gates[index]
        let gate = try HealthGate(parsing: text)
        #expect(try HealthGate(parsing: gate.description) == gate, "\(gate.description)")
        switch gate.evaluate(candidate: candidate, baseline: baseline) {
        case .pass: #expect(expected == true)
        case .fail(let why):
            #expect(expected == false)
            #expect(why.contains(gate.metric.rawValue))
        case .unknown: #expect(expected == nil)
        }
    }

    @Test("bad gates and plans are refused, naming the problem")
    func refusals() throws {
        for text in ["latency <= 3", "error_rate == 1", "error_rate <=", "error_rate <= baseline * 2", "error_rate <= x"] {
            #expect(throws: RolloutError.self, "\(text)") { try HealthGate(parsing: text) }
        }
        #expect(throws: RolloutError.self) { try RolloutPlan.phases(parsing: "5%,0%,100%") }
        #expect(throws: RolloutError.self) { try RolloutPlan.phases(parsing: "5,100") }
        #expect(throws: RolloutError.self) { try Self.plan(phases: [0.5, 0.25, 1]).validate() }
        #expect(throws: RolloutError.self) { try Self.plan(phases: [0.5]).validate() }
        #expect(try RolloutPlan.phases(parsing: "5%, 25%,100%") == [0.05, 0.25, 1])
    }

    static func plan(phases: [Double] = [0.05, 0.25, 1], onFail: RolloutPlan.OnFail = .rollback) -> RolloutPlan {
        RolloutPlan(
            phases: phases,
            gates: [try! HealthGate(parsing: "error_rate <= baseline + 0.01"), try! HealthGate(parsing: "p95_latency <= 1.2 * baseline")],
            minDevices: 3, observeMilliseconds: 600_000, onFail: onFail)
    }

    static func health(devices: Int = 3, errorRate: Double = 0.01, p95: Double = 10) -> PhaseHealth {
        PhaseHealth(
            reportingDevices: devices, candidate: [.errorRate: errorRate, .p95Latency: p95],
            baseline: [.errorRate: 0.01, .p95Latency: 10])
    }

    @Test("healthy phases advance only after the whole window with enough devices, and complete after 100 %")
    func advances() {
        let plan = Self.plan()
        var (state, actions) = RolloutMachine.transition(.pending, .start(now: 0), plan: plan)
        #expect(state == .observing(phase: 0, since: 0) && actions.first == .assign(phase: 0, share: 0.05))
        (state, actions) = RolloutMachine.transition(state, .evaluate(now: 599_999, health: Self.health()), plan: plan)
        #expect(state == .observing(phase: 0, since: 0) && actions.isEmpty, "the window has not elapsed")
        (state, _) = RolloutMachine.transition(state, .evaluate(now: 700_000, health: Self.health(devices: 2)), plan: plan)
        #expect(state == .observing(phase: 0, since: 0), "too few devices report")
        (state, actions) = RolloutMachine.transition(state, .evaluate(now: 700_000, health: Self.health()), plan: plan)
        #expect(state == .observing(phase: 1, since: 700_000) && actions.first == .assign(phase: 1, share: 0.25))
        (state, _) = RolloutMachine.transition(state, .promote(now: 710_000), plan: plan)
        #expect(state == .observing(phase: 2, since: 710_000))
        (state, actions) = RolloutMachine.transition(state, .evaluate(now: 1_400_000, health: Self.health()), plan: plan)
        #expect(state == .completed)
        #expect(RolloutMachine.transition(state, .abort(reason: "late"), plan: plan).0 == .completed)
    }

    @Test("a failing gate rolls back at once (or pauses), without waiting for the window")
    func failures() {
        let bad = Self.health(errorRate: 0.05)
        let (rolled, actions) = RolloutMachine.transition(.observing(phase: 1, since: 0), .evaluate(now: 1, health: bad), plan: Self.plan())
        guard case .rollingBack(let reason) = rolled else { return #expect(Bool(false), "\(rolled)") }
        #expect(reason.contains("error_rate") && actions.first == .assignBaseline)
        #expect(RolloutMachine.transition(rolled, .rollbackFinished, plan: Self.plan()).0 == .rolledBack(reason: reason))

        let (paused, _) = RolloutMachine.transition(
            .observing(phase: 1, since: 0), .evaluate(now: 1, health: Self.health(p95: 13)), plan: Self.plan(onFail: .pause))
        guard case .paused(1, let why) = paused else { return #expect(Bool(false), "\(paused)") }
        #expect(why.contains("p95_latency"))
        #expect(RolloutMachine.transition(paused, .resume(now: 50), plan: Self.plan()).0 == .observing(phase: 1, since: 50))
        #expect(RolloutMachine.transition(paused, .abort(reason: "operator").self, plan: Self.plan()).0 == .rollingBack(reason: "operator"))
        // A missing metric keeps observing; it never passes a phase.
        var unknown = Self.health()
        unknown.candidate[.p95Latency] = nil
        #expect(
            RolloutMachine.transition(.observing(phase: 0, since: 0), .evaluate(now: 10_000_000, health: unknown), plan: Self.plan()).0
                == .observing(phase: 0, since: 0))
    }
}

@Suite("Rollout JSON")
struct RolloutJSONTests {
    @Test("plans and every state survive a JSON round trip (what a hub restart reads back)")
    func roundTrip() throws {
        let plan = RolloutMachineTests.plan(onFail: .pause)
        let decodedPlan = try JSONDecoder().decode(RolloutPlan.self, from: JSONEncoder().encode(plan))
        #expect(decodedPlan == plan)
        let text = String(decoding: try JSONEncoder().encode(plan), as: UTF8.self)
        #expect(text.contains("error_rate <= baseline + 0.01"), "gates are stored as the operator wrote them: \(text)")
        let states: [RolloutState] = [
            .pending, .observing(phase: 2, since: 1_800_000_000_000), .paused(phase: 1, reason: "p95"),
            .rollingBack(reason: "error rate"), .rolledBack(reason: "error rate"), .completed,
        ]
        for state in states {
            #expect(try JSONDecoder().decode(RolloutState.self, from: JSONEncoder().encode(state)) == state)
        }
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(RolloutState.self, from: Data(#"{"state":"lost"}"#.utf8)) }
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([HealthGate].self, from: Data(#"["latency <= 3"]"#.utf8))
        }
    }
}
