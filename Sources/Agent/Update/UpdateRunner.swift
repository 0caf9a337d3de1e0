import Core
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Runs the update state machine: writes each transition to the journal, then runs its actions,
/// one event at a time. Effects run in tasks of their own and post their outcome back as events,
/// so an assignment arriving meanwhile is queued, never lost.
public actor UpdateRunner {
    /// Called after a state's journal entry is written and before its effects run (tests stop
    /// the agent there; the agent logs).
    public typealias Observer = @Sendable (_ state: UpdateState, _ plan: UpdatePlan?) async -> Void

    private let store: AgentStore
    private let effects: any UpdateEffects
    private let report: @Sendable (DeviceEvent) async -> Void
    private let observer: Observer?
    private let now: @Sendable () -> Int64
    private let inbox: AsyncStream<UpdateEvent>
    private let inboxSink: AsyncStream<UpdateEvent>.Continuation
    private var loop: Task<Void, Never>?
    private var running: [Int: Task<Void, Never>] = [:]
    private var nextTask = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []
    /// Events posted and not handled yet.
    private var unhandled = 0

    /// The state the journal says the update is in.
    public private(set) var state: UpdateState = .idle
    /// The update in progress (or the last one).
    public private(set) var plan: UpdatePlan?
    /// An assignment waiting for the current update to settle.
    public private(set) var pending: UpdatePlan?

    /// A runner over `store`'s journal. `report` sends an event (the agent enqueues it in the
    /// outbox); `observer` sees every state entered.
    public init(
        store: AgentStore, effects: any UpdateEffects, report: @escaping @Sendable (DeviceEvent) async -> Void,
        observer: Observer? = nil, now: @escaping @Sendable () -> Int64 = StoreConfiguration.wallClockMilliseconds
    ) {
        self.store = store
        self.effects = effects
        self.report = report
        self.observer = observer
        self.now = now
        (inbox, inboxSink) = AsyncStream.makeStream(of: UpdateEvent.self)
    }

    // MARK: - Life

    /// Reads the newest journal entry, recovers from it (see `UpdateMachine.recover`) and starts
    /// handling events. Returns the state recovered.
    @discardableResult
    public func start() async throws(StoreError) -> UpdateState {
        if let entry = try await store.latestJournalEntry(), let recovered = UpdateState(rawValue: entry.toState) {
            state = recovered
            plan = entry.detail.flatMap { try? JSONDecoder().decode(UpdatePlan.self, from: Data($0.utf8)) }
        }
        let events = inbox
        loop = Task { [weak self] in
            for await event in events {
                guard let self else { return }
                await self.handle(event)
            }
        }
        guard plan != nil else {
            state = state.isSettled ? state : .failed
            return state
        }
        switch UpdateMachine.recover(state) {
        case .settled: break
        case .resume(let actions):
            await observer?(state, plan)
            for action in actions { await perform(action) }
        case .inject(let event): post(event)
        }
        return state
    }

    /// Stops handling events and cancels running effects (the journal keeps where they were).
    public func stop() async {
        inboxSink.finish()
        loop?.cancel()
        for task in running.values { task.cancel() }
        running.removeAll()
        for waiter in waiters { waiter.resume() }
        waiters.removeAll()
    }

    /// Starts `plan` (a verified, accepted assignment), or queues it behind the update in progress;
    /// a plan whose version serves when its turn comes is done at once.
    public func submit(_ plan: UpdatePlan) {
        post(.assigned(plan))
    }

    /// Returns once no update is in progress, none is queued and no event waits.
    public func waitUntilSettled() async {
        if isIdle { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    private var isIdle: Bool { state.isSettled && pending == nil && unhandled == 0 && running.isEmpty }

    private func post(_ event: UpdateEvent) {
        unhandled += 1
        inboxSink.yield(event)
    }

    // MARK: - Events

    private func handle(_ event: UpdateEvent) async {
        defer {
            unhandled -= 1
            settleIfDone()
        }
        var event = event
        if case .assigned(var next) = event, state.isSettled {
            next.previousVersion = await effects.activeVersion(of: next.modelName)
            // Its version serves by now (a rollback order queued behind the update it undoes,
            // which failed or was rolled back): nothing to install.
            if next.previousVersion == next.modelVersion { return }
            event = .assigned(next)
            plan = next
        }
        let (target, actions) = UpdateMachine.transition(state, event)
        guard let plan else { return }
        if target != state {
            do {
                let detail = String(decoding: try JSONEncoder().encode(plan), as: UTF8.self)
                try await store.appendJournal(packageID: plan.packageId, from: state.rawValue, to: target.rawValue, detail: detail)
            } catch {
                // Without the journal entry the effects must not run: a crash would then resume wrongly.
                await report(
                    deviceEvent(for: state, failure: UpdateFailure(.storageFailed, "the update journal could not be written: \(error)")))
                return
            }
            state = target
            await observer?(target, plan)
        }
        for action in actions { await perform(action) }
    }

    private func settleIfDone() {
        guard state.isSettled else { return }
        if let next = pending {
            pending = nil
            post(.assigned(next))
            return
        }
        guard isIdle else { return }
        for waiter in waiters { waiter.resume() }
        waiters.removeAll()
    }

    // MARK: - Actions

    private func perform(_ action: UpdateAction) async {
        guard let plan else { return }
        switch action {
        case .download: launch { (e) throws(UpdateFailure) in try await e.download(plan); return .downloaded }
        case .verifyAndStage: launch { (e) throws(UpdateFailure) in try await e.verifyAndStage(plan); return .verified }
        case .beginActivation: post(.activate)
        case .swapIn: launch { (e) throws(UpdateFailure) in try await e.swapIn(plan); return .activated }
        case .watch: launch { (e) throws(UpdateFailure) in try await e.watch(plan); return .probationPassed }
        case .swapBack: launch { (e) throws(UpdateFailure) in try await e.swapBack(plan); return .restored }
        case .commit: await effects.commit(plan)
        case .discard: await effects.discard(plan)
        case .report(_, let failure): await report(deviceEvent(for: state, failure: failure))
        case .queue(let next): pending = next
        case .ignore: break
        }
    }

    private func launch(_ body: @escaping @Sendable (any UpdateEffects) async throws(UpdateFailure) -> UpdateEvent) {
        let effects = effects
        let key = nextTask
        nextTask += 1
        running[key] = Task.detached {
            let outcome: UpdateEvent
            do throws(UpdateFailure) {
                outcome = try await body(effects)
            } catch {
                outcome = .failed(error)
            }
            await self.finished(key, outcome: Task.isCancelled ? nil : outcome)
        }
    }

    private func finished(_ key: Int, outcome: UpdateEvent?) {
        guard running.removeValue(forKey: key) != nil else { return }
        if let outcome { post(outcome) }
    }

    private func deviceEvent(for state: UpdateState, failure: UpdateFailure?) -> DeviceEvent {
        DeviceEvent(
            id: StoreConfiguration.randomMessageID("ev"), time: now(),
            kind: .update, phase: state.phase, error: failure?.kind, reason: failure?.reason,
            modelName: plan.flatMap { ModelName(rawValue: $0.modelName) }, modelVersion: plan?.modelVersion,
            rolloutId: plan?.rolloutId)
    }
}
