import Core
import Testing

@testable import Agent

@Suite("Update state machine")
struct UpdateMachineTests {
    static let plan = UpdatePlan(
        assignmentId: "as-1", issuedAt: 1, modelName: "digits", modelVersion: "1.1.0", packageId: String(repeating: "a", count: 64),
        packageSize: 100, previousVersion: "1.0.0")
    static let failure = UpdateFailure(.verificationFailed, "bad")
    static let events: [UpdateEvent] = [
        .assigned(plan), .downloaded, .verified, .activate, .activated, .probationPassed, .restored, .failed(failure),
    ]

    /// Every state's one productive event, the state it leads to and the effect it starts.
    static let forward: [(UpdateState, UpdateEvent, UpdateState, UpdateAction?)] = [
        (.idle, .assigned(plan), .downloading, .download),
        (.committed, .assigned(plan), .downloading, .download),
        (.rolledBack, .assigned(plan), .downloading, .download),
        (.failed, .assigned(plan), .downloading, .download),
        (.downloading, .downloaded, .verifying, .verifyAndStage),
        (.verifying, .verified, .staged, .beginActivation),
        (.staged, .activate, .activating, .swapIn),
        (.activating, .activated, .probation, .watch),
        (.probation, .probationPassed, .committed, .commit),
        (.rollingBack, .restored, .rolledBack, .discard),
    ]

    @Test("the productive transition of every state", arguments: 0..<forward.count)
    func forwardTransitions(index: Int) {
        let (from, event, to, effect) = Self.forward[index]
        let (state, actions) = UpdateMachine.transition(from, event)
        #expect(state == to)
        #expect(actions.contains(.report(to.phase!, nil)))
        if let effect { #expect(actions.contains(effect)) }
    }

    /// Where a failure leads from each state in progress.
    static let failures: [(UpdateState, UpdateState, UpdateAction?)] = [
        (.downloading, .failed, .discard),
        (.verifying, .failed, .discard),
        (.staged, .failed, .discard),
        (.activating, .rollingBack, .swapBack),
        (.probation, .rollingBack, .swapBack),
        (.rollingBack, .failed, nil),
    ]

    @Test("a failure before the new model serves ends failed; after, it rolls back", arguments: 0..<failures.count)
    func failureTransitions(index: Int) {
        let (from, to, effect) = Self.failures[index]
        let (state, actions) = UpdateMachine.transition(from, .failed(Self.failure))
        #expect(state == to)
        #expect(actions.contains(.report(to.phase!, Self.failure)))
        if let effect { #expect(actions.contains(effect)) }
    }

    @Test("every other event leaves the state alone; an assignment during an update is queued", arguments: UpdateState.allCases)
    func everythingElseIsIgnoredOrQueued(state: UpdateState) {
        for event in Self.events {
            let productive =
                Self.forward.contains { $0.0 == state && $0.1 == event }
                || (!state.isSettled && event == .failed(Self.failure))
            if productive { continue }
            let (next, actions) = UpdateMachine.transition(state, event)
            #expect(next == state, "\(state) + \(event)")
            if case .assigned(let plan) = event, !state.isSettled {
                #expect(actions == [.queue(plan)])
            } else {
                #expect(actions.count == 1)
                guard case .ignore = actions.first else {
                    Issue.record("\(state) + \(event) should be ignored, got \(actions)")
                    continue
                }
            }
        }
    }

    @Test("the recovery map: resume what can be resumed, roll back a crash during activation or probation")
    func recoveryMap() {
        let expected: [UpdateState: UpdateMachine.Recovery] = [
            .idle: .settled, .committed: .settled, .rolledBack: .settled, .failed: .settled,
            .downloading: .resume([.download]), .verifying: .resume([.verifyAndStage]), .staged: .resume([.beginActivation]),
            .rollingBack: .resume([.swapBack]),
        ]
        for state in UpdateState.allCases {
            let recovery = UpdateMachine.recover(state)
            if let want = expected[state] {
                #expect(recovery == want, "\(state)")
            } else {
                guard case .inject(.failed(let failure)) = recovery else {
                    Issue.record("\(state): expected a crash to be injected, got \(recovery)")
                    continue
                }
                #expect(failure.kind == .crashLoop)
                // The injected failure leads to a rollback.
                #expect(UpdateMachine.transition(state, .failed(failure)).0 == .rollingBack)
            }
        }
    }
}
