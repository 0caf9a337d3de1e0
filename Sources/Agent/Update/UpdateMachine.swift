import Core

/// The update state machine: one transition table and one recovery map, both pure.
///
/// `transition` says, for every state and event, the state entered and the actions to run; the
/// runner writes the journal entry before it runs them. `recover` says, for every state a crash
/// can leave in the journal, what to do on restart.
public enum UpdateMachine {
    /// What a restart does in a state.
    public enum Recovery: Sendable, Equatable {
        /// Nothing is in progress.
        case settled
        /// Run these actions again (each is idempotent).
        case resume([UpdateAction])
        /// Feed this event through `transition` (the state cannot simply be resumed).
        case inject(UpdateEvent)
    }

    /// The state after `event` in `state`, and the actions to run.
    public static func transition(_ state: UpdateState, _ event: UpdateEvent) -> (UpdateState, [UpdateAction]) {
        switch state {
        case .idle, .committed, .rolledBack, .failed:
            switch event {
            case .assigned: return (.downloading, [.report(.downloading, nil), .download])
            case .downloaded, .verified, .activate, .activated, .probationPassed, .restored, .failed:
                return (state, [.ignore("no update is in progress")])
            }
        case .downloading:
            switch event {
            case .assigned(let plan): return (state, [.queue(plan)])
            case .downloaded: return (.verifying, [.report(.verifying, nil), .verifyAndStage])
            case .failed(let failure): return (.failed, [.report(.failed, failure), .discard])
            case .verified, .activate, .activated, .probationPassed, .restored:
                return (state, [.ignore("the package is still downloading")])
            }
        case .verifying:
            switch event {
            case .assigned(let plan): return (state, [.queue(plan)])
            case .verified: return (.staged, [.report(.staged, nil), .beginActivation])
            case .failed(let failure): return (.failed, [.report(.failed, failure), .discard])
            case .downloaded, .activate, .activated, .probationPassed, .restored:
                return (state, [.ignore("the package is being verified")])
            }
        case .staged:
            switch event {
            case .assigned(let plan): return (state, [.queue(plan)])
            case .activate: return (.activating, [.report(.activating, nil), .swapIn])
            case .failed(let failure): return (.failed, [.report(.failed, failure), .discard])
            case .downloaded, .verified, .activated, .probationPassed, .restored:
                return (state, [.ignore("the model is staged")])
            }
        case .activating:
            switch event {
            case .assigned(let plan): return (state, [.queue(plan)])
            case .activated: return (.probation, [.report(.probation, nil), .watch])
            case .failed(let failure): return (.rollingBack, [.report(.rollingBack, failure), .swapBack])
            case .downloaded, .verified, .activate, .probationPassed, .restored:
                return (state, [.ignore("the model is being activated")])
            }
        case .probation:
            switch event {
            case .assigned(let plan): return (state, [.queue(plan)])
            case .probationPassed: return (.committed, [.report(.committed, nil), .commit])
            case .failed(let failure): return (.rollingBack, [.report(.rollingBack, failure), .swapBack])
            case .downloaded, .verified, .activate, .activated, .restored:
                return (state, [.ignore("the model is on probation")])
            }
        case .rollingBack:
            switch event {
            case .assigned(let plan): return (state, [.queue(plan)])
            case .restored: return (.rolledBack, [.report(.rolledBack, nil), .discard])
            // The previous model cannot serve again: the new one keeps serving, and the update ends failed.
            case .failed(let failure): return (.failed, [.report(.failed, failure)])
            case .downloaded, .verified, .activate, .activated, .probationPassed:
                return (state, [.ignore("the previous model is being restored")])
            }
        }
    }

    /// What to do after a restart that found `state` as the newest journal entry.
    ///
    /// Downloads resume from the chunks on disk; verification and staging run again from the
    /// package file; a restart during activation or probation counts as a crash of the new model
    /// and rolls back; a rollback runs again until it is done.
    public static func recover(_ state: UpdateState) -> Recovery {
        switch state {
        case .idle, .committed, .rolledBack, .failed: .settled
        case .downloading: .resume([.download])
        case .verifying: .resume([.verifyAndStage])
        case .staged: .resume([.beginActivation])
        case .activating:
            .inject(.failed(UpdateFailure(.crashLoop, "the agent stopped while the new model was being activated")))
        case .probation:
            .inject(.failed(UpdateFailure(.crashLoop, "the agent stopped while the new model was on probation")))
        case .rollingBack: .resume([.swapBack])
        }
    }
}
