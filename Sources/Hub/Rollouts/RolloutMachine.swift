/// Where a rollout stands; persisted after every transition, so a hub restart resumes it.
public enum RolloutState: Sendable, Equatable {
    /// Created, not started.
    case pending
    /// Phase `phase` is assigned; its window started at `since` (ms since the epoch).
    case observing(phase: Int, since: Int64)
    /// Stopped in `phase` by a failing gate (with `onFail: pause`) or an operator.
    case paused(phase: Int, reason: String)
    /// The baseline version is being assigned again.
    case rollingBack(reason: String)
    /// Every device of the rollout is back on the baseline version.
    case rolledBack(reason: String)
    /// The last phase passed: the new version runs on the whole target.
    case completed

    /// Whether nothing more happens.
    public var isFinished: Bool {
        switch self {
        case .rolledBack, .completed: true
        case .pending, .observing, .paused, .rollingBack: false
        }
    }
}

/// What happens to a rollout.
public enum RolloutEvent: Sendable, Equatable {
    /// Start at `now`.
    case start(now: Int64)
    /// The fleet's aggregates at `now` (sent periodically).
    case evaluate(now: Int64, health: PhaseHealth)
    /// An operator moves to the next phase at once.
    case promote(now: Int64)
    /// An operator pauses.
    case pause(reason: String)
    /// An operator resumes at `now` (the phase's window starts again).
    case resume(now: Int64)
    /// An operator aborts: the baseline is assigned again.
    case abort(reason: String)
    /// Every device of the rollout was assigned the baseline again.
    case rollbackFinished
}

/// What the rollout runner does after a transition (the new state is already persisted).
public enum RolloutAction: Sendable, Equatable {
    /// Assign the new version to `share` of the target (the same devices stay on it as it grows).
    case assign(phase: Int, share: Double)
    /// Assign the baseline version to every device of the rollout.
    case assignBaseline
    /// Record and report what happened.
    case note(String)
}

/// The rollout state machine: one table, pure.
public enum RolloutMachine {
    /// The state after `event` in `state` under `plan`, and the actions to run.
    public static func transition(_ state: RolloutState, _ event: RolloutEvent, plan: RolloutPlan)
        -> (RolloutState, [RolloutAction])
    {
        switch (state, event) {
        case (.pending, .start(let now)):
            return (.observing(phase: 0, since: now), [.assign(phase: 0, share: plan.phases[0]), .note("phase 1 started")])
        case (.pending, .abort(let reason)):
            return (.rolledBack(reason: reason), [.note("aborted before it started: \(reason)")])
        case (.pending, .evaluate), (.pending, .promote), (.pending, .pause), (.pending, .resume), (.pending, .rollbackFinished):
            return (state, [])

        case (.observing(let phase, let since), .evaluate(let now, let health)):
            return judge(phase: phase, since: since, now: now, health: health, plan: plan)
        case (.observing(let phase, _), .promote(let now)), (.paused(let phase, _), .promote(let now)):
            return advance(from: phase, now: now, plan: plan, why: "promoted by hand")
        case (.observing(let phase, _), .pause(let reason)):
            return (.paused(phase: phase, reason: reason), [.note("paused in phase \(phase + 1): \(reason)")])
        case (.observing, .abort(let reason)), (.paused, .abort(let reason)):
            return (.rollingBack(reason: reason), [.assignBaseline, .note("aborted: \(reason)")])
        case (.observing, .start), (.observing, .resume), (.observing, .rollbackFinished):
            return (state, [])

        case (.paused(let phase, _), .resume(let now)):
            return (.observing(phase: phase, since: now), [.note("resumed in phase \(phase + 1)")])
        case (.paused, .start), (.paused, .evaluate), (.paused, .pause), (.paused, .rollbackFinished):
            return (state, [])

        case (.rollingBack(let reason), .rollbackFinished):
            return (.rolledBack(reason: reason), [.note("rolled back: \(reason)")])
        case (.rollingBack, .start), (.rollingBack, .evaluate), (.rollingBack, .promote), (.rollingBack, .pause),
            (.rollingBack, .resume), (.rollingBack, .abort):
            return (state, [])

        case (.rolledBack, .start), (.rolledBack, .evaluate), (.rolledBack, .promote), (.rolledBack, .pause),
            (.rolledBack, .resume), (.rolledBack, .abort), (.rolledBack, .rollbackFinished),
            (.completed, .start), (.completed, .evaluate), (.completed, .promote), (.completed, .pause),
            (.completed, .resume), (.completed, .abort), (.completed, .rollbackFinished):
            return (state, [])
        }
    }

    /// Gates over the window: a failure acts as soon as enough devices report; a pass needs the
    /// whole window.
    private static func judge(phase: Int, since: Int64, now: Int64, health: PhaseHealth, plan: RolloutPlan)
        -> (RolloutState, [RolloutAction])
    {
        let current = RolloutState.observing(phase: phase, since: since)
        guard health.reportingDevices >= plan.minDevices else { return (current, []) }
        var unknown = false
        for gate in plan.gates {
            switch gate.evaluate(candidate: health.candidate[gate.metric], baseline: health.baseline[gate.metric]) {
            case .pass: continue
            case .unknown: unknown = true
            case .fail(let why):
                switch plan.onFail {
                case .rollback:
                    return (.rollingBack(reason: why), [.assignBaseline, .note("phase \(phase + 1) failed: \(why)")])
                case .pause:
                    return (.paused(phase: phase, reason: why), [.note("phase \(phase + 1) paused: \(why)")])
                }
            }
        }
        guard !unknown, now - since >= plan.observeMilliseconds, plan.advancesAutomatically else { return (current, []) }
        return advance(from: phase, now: now, plan: plan, why: "gates passed")
    }

    private static func advance(from phase: Int, now: Int64, plan: RolloutPlan, why: String) -> (RolloutState, [RolloutAction]) {
        let next = phase + 1
        guard next < plan.phases.count else { return (.completed, [.note("completed: \(why)")]) }
        return (
            .observing(phase: next, since: now),
            [.assign(phase: next, share: plan.phases[next]), .note("phase \(next + 1) started: \(why)")]
        )
    }
}
