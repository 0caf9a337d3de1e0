import Core
import Crypto
import Foundation

/// Drives rollouts: creates them, applies operators' commands, and every tick evaluates the
/// gates of each active rollout against the fleet's live telemetry and sends what the
/// `RolloutMachine` decides.
///
/// Every state change is a compare-and-set in the store before anything is sent, so a hub
/// restart (or a second replica) resumes from the stored state. Assignments are reconciled,
/// not fired once: each tick makes sure every device the state calls for has been sent its
/// signed, retained assignment since this process started. After a restart the assignments are
/// sent once more; an agent ignores one for the version it already runs.
///
/// A rolled-back rollout is checked for `rollbackCheckPeriod` more: a device that still reports
/// the candidate `rollbackResendInterval` after its rollback order is sent a fresh one (new id,
/// new issue time), at most `rollbackResends` times.
public actor RolloutRunner {
    /// The principal of the runner's own changes in the audit log.
    public static let subject = "hub-rollouts"

    let store: any RolloutStore & FleetStore
    private let registry: RegistryService
    let monitor: FleetMonitor
    let publisher: AssignmentPublisher
    let transport: (any MessageTransport)?
    private let catalog: PackageFileCatalog
    private let artifacts: DirectoryArtifactStore
    let settings: Settings
    let now: @Sendable () -> Int64
    /// Devices sent an assignment by this process, by rollout and version.
    private var sent: [String: Set<String>] = [:]
    /// Rollouts being reconciled, with the reconciles waiting their turn: a tick and a create or
    /// command reconciling the same rollout at once would both see a device as not sent yet
    /// while the other's publish is in flight, and send it two assignments.
    private var reconciling: [String: [CheckedContinuation<Void, Never>]] = [:]
    /// Rolled-back rollouts whose devices are still checked for the candidate.
    var checkedRollbacks: Set<String> = []
    /// Whether the rollouts rolled back before this process started were read.
    var readRollbacks = false
    /// Fresh rollback orders sent by this process, by rollout.
    var rollbackOrders: [String: RollbackOrders] = [:]
    /// Rollouts whose last reconcile failed, with the reason (cleared on success).
    var failing: [String: String] = [:]
    /// The current phase's telemetry sums of each active rollout (since a restart, in memory).
    private var windows: [String: PhaseWindow] = [:]

    /// A runner; without a transport, states move but nothing reaches devices (reconciled once
    /// one is given to a later runner).
    public init(
        store: any RolloutStore & FleetStore, registry: RegistryService, monitor: FleetMonitor,
        publisher: AssignmentPublisher, transport: (any MessageTransport)?, catalog: PackageFileCatalog,
        artifacts: DirectoryArtifactStore, settings: Settings = Settings(), now: @escaping @Sendable () -> Int64
    ) {
        self.artifacts = artifacts
        self.store = store
        self.registry = registry
        self.monitor = monitor
        self.publisher = publisher
        self.transport = transport
        self.catalog = catalog
        self.settings = settings
        self.now = now
    }

    // MARK: - Operators

    /// Checks `request`, stores the rollout and starts its first phase.
    public func create(_ request: RolloutRequest, by principal: Principal) async throws -> RolloutView {
        try principal.require(.operator)
        let plan = try request.plan()
        let candidate = try await registeredVersion(model: request.model, request.version, what: "version")
        let selector = try await resolveTarget(request.target)
        let targets = try await targetDevices(selector)
        let baseline = try await chooseBaseline(request, candidate: candidate, targets: targets)
        if baseline == nil {
            if let gate = plan.gates.first(where: { if case .baseline = $0.bound { true } else { false } }) {
                throw RolloutError(
                    .invalidPlan,
                    "the gate '\(gate)' compares with a baseline, and '\(request.model)' has none on the target: give --baseline or use constant gates"
                )
            }
            if plan.onFail == .rollback {
                throw RolloutError(
                    .invalidPlan,
                    "'\(request.model)' has no baseline version on the target to roll back to: give --baseline or --on-fail pause")
            }
        }
        for active in try await store.rollouts(activeOnly: true) where active.model == request.model {
            throw RolloutError(
                .conflict, "rollout '\(active.id)' of '\(request.model)' is still \(Self.name(active.state)); finish or abort it first")
        }
        let time = now()
        let record = RolloutRecord(
            id: Self.randomHex(6), model: request.model, candidate: candidate.version.description,
            baseline: baseline?.version.description, selector: selector.description, plan: plan, salt: Self.randomHex(8),
            createdAt: time, createdBy: principal.subject)
        try await store.insertRollout(record, change: ChangeContext(subject: principal.subject, time: time))
        await log(record.id, "created by \(principal.subject): \(record.candidate) over \(record.baseline ?? "no baseline") on '\(record.selector)' (\(targets.count) devices)")
        let started: RolloutRecord
        do {
            started = try await apply(.start(now: time), to: record, by: principal.subject)
        } catch let error as RolloutError where error.code == .conflict {
            // A tick between the insert and the start saw the stored pending rollout and started
            // it first: the same outcome, so answer with what is stored.
            started = try await rollout(record.id)
        }
        return try await view(started)
    }

    /// Applies an operator's command to rollout `id`.
    public func command(_ command: RolloutCommand, id: String, reason: String?, by principal: Principal) async throws
        -> RolloutView
    {
        try principal.require(.operator)
        let record = try await rollout(id)
        let why = reason.flatMap { $0.isEmpty ? nil : $0 } ?? "\(command.rawValue) by \(principal.subject)"
        let event: RolloutEvent =
            switch command {
            case .promote: .promote(now: now())
            case .pause: .pause(reason: why)
            case .resume: .resume(now: now())
            case .abort: .abort(reason: why)
            }
        let (next, _) = RolloutMachine.transition(record.state, event, plan: record.plan)
        guard next != record.state else {
            throw RolloutError(
                .invalidTransition, "rollout '\(id)' is \(Self.name(record.state)); it cannot \(command.rawValue) now")
        }
        await log(id, "\(command.rawValue) by \(principal.subject)\(reason.map { ": \($0)" } ?? "")")
        return try await view(try await apply(event, to: record, by: principal.subject))
    }

    /// Rollout `id` as the API shows it.
    public func view(id: String, by principal: Principal) async throws -> RolloutView {
        try principal.require(.viewer)
        return try await view(try await rollout(id))
    }

    /// Rollouts, newest first.
    public func views(activeOnly: Bool, by principal: Principal) async throws -> [RolloutView] {
        try principal.require(.viewer)
        var result: [RolloutView] = []
        for record in try await store.rollouts(activeOnly: activeOnly) { result.append(try await view(record)) }
        return result
    }

    // MARK: - Ticks

    /// Evaluates and reconciles every active rollout once.
    public func tick() async {
        let active: [RolloutRecord]
        do {
            active = try await store.rollouts(activeOnly: true)
        } catch {
            return
        }
        windows = windows.filter { id, _ in active.contains { $0.id == id } }
        for record in active {
            do {
                try await drive(record)
            } catch {
                let text = "tick failed: \(error)"
                if failing[record.id] != text {
                    failing[record.id] = text
                    await log(record.id, text)
                }
            }
        }
        await checkRollbacks()
    }

    /// Ticks every `tickInterval` until cancelled.
    public func run() async {
        while !Task.isCancelled {
            await tick()
            try? await Task.sleep(for: settings.tickInterval)
        }
    }

    private func drive(_ record: RolloutRecord) async throws {
        guard try await reconcile(record) else { return }
        switch record.state {
        case .observing(_, let since):
            let health = try await health(record, since: since)
            _ = try await apply(.evaluate(now: now(), health: health), to: record, by: Self.subject)
        case .rollingBack:
            _ = try await apply(.rollbackFinished, to: record, by: Self.subject)
        case .pending:
            _ = try await apply(.start(now: now()), to: record, by: Self.subject)
        case .paused, .rolledBack, .completed:
            break
        }
    }

    // MARK: - Transitions

    /// Moves `record` by `event` (compare-and-set), logs the notes and reconciles the new state.
    @discardableResult
    func apply(_ event: RolloutEvent, to record: RolloutRecord, by subject: String) async throws -> RolloutRecord {
        let (state, actions) = RolloutMachine.transition(record.state, event, plan: record.plan)
        guard state != record.state else { return record }
        let moved = try await move(record, to: state, by: subject)
        if case .rollingBack = record.state, case .rolledBack = moved.state { checkedRollbacks.insert(moved.id) }
        for action in actions {
            if case .note(let text) = action { await log(record.id, text) }
        }
        let reconciled = try await reconcile(moved)
        // A rollback is finished once the baseline went out to every device.
        if case .rollingBack = moved.state, reconciled {
            do {
                return try await apply(.rollbackFinished, to: moved, by: subject)
            } catch let error as RolloutError where error.code == .conflict {
                // A tick finished the rollback meanwhile: the change asked for has happened.
                return try await rollout(record.id)
            }
        }
        return moved
    }

    func move(_ record: RolloutRecord, to state: RolloutState, by subject: String) async throws -> RolloutRecord {
        do {
            return try await store.updateRolloutState(
                id: record.id, from: record.state, to: state, change: ChangeContext(subject: subject, time: now()))
        } catch {
            guard error.code == .conflict else { throw error }
            throw RolloutError(.conflict, "rollout '\(record.id)' moved meanwhile; read it again")
        }
    }

    /// Sends every assignment the stored state of `record` calls for that this process has not
    /// sent yet, one reconcile of a rollout at a time; false when some could not be sent
    /// (retried next tick).
    private func reconcile(_ record: RolloutRecord) async throws -> Bool {
        if reconciling[record.id] == nil {
            reconciling[record.id] = []
        } else {
            await withCheckedContinuation { reconciling[record.id, default: []].append($0) }
        }
        defer {
            // Hands the turn to the next waiter, if any.
            if var waiters = reconciling[record.id], !waiters.isEmpty {
                let next = waiters.removeFirst()
                reconciling[record.id] = waiters
                next.resume()
            } else {
                reconciling[record.id] = nil
            }
        }
        // The rollout may have moved while this reconcile waited or since its caller read it.
        return try await reconcileState(try await store.rollout(id: record.id) ?? record)
    }

    private func reconcileState(_ record: RolloutRecord) async throws -> Bool {
        let devices: [String]
        let version: String?
        switch record.state {
        case .pending, .rolledBack:
            return true
        case .observing(let phase, _), .paused(let phase, _):
            devices = RolloutCohort.select(
                try await targetDevices(LabelSelector(parsing: record.selector)), share: record.plan.phases[phase],
                salt: record.salt)
            version = record.candidate
        case .completed:
            devices = try await targetDevices(LabelSelector(parsing: record.selector))
            version = record.candidate
        case .rollingBack:
            devices = try await targetDevices(LabelSelector(parsing: record.selector))
            version = record.baseline
        }
        guard let version else {
            await log(record.id, "no baseline version: devices keep the version they run")
            return true
        }
        let key = record.id + "/" + version
        let missing = devices.filter { !(sent[key]?.contains($0) ?? false) }
        guard !missing.isEmpty else { return true }
        guard let transport else { return await fail(record.id, "no broker connection: \(missing.count) assignments wait") }
        let target: AssignmentPublisher.Target
        do {
            target = try await assignmentTarget(record, version: version)
        } catch let error as CatalogFailure {
            return await fail(record.id, error.text)
        }
        var ids: [DeviceID] = []
        for device in missing { ids.append(try DeviceID(device)) }
        let (published, failure) = await publisher.publish(target, to: ids, via: transport)
        sent[key, default: []].formUnion(published.map(\.rawValue))
        if !published.isEmpty { await log(record.id, "assigned \(version) to \(published.count) devices") }
        if let failure { return await fail(record.id, "assigning \(version) failed after \(published.count) devices: \(failure)") }
        failing[record.id] = nil
        return true
    }

    /// What assigning `version` of `record` sends, with its package added to the catalog devices
    /// download from.
    func assignmentTarget(_ record: RolloutRecord, version: String) async throws -> AssignmentPublisher.Target {
        let registered = try await registeredVersion(model: record.model, version, what: "version")
        do {
            try catalog.add(path: artifacts.path(of: registered.package.digest))
        } catch {
            throw CatalogFailure(text: "cannot serve package \(registered.packageId): \(error)")
        }
        return AssignmentPublisher.Target(
            model: try ModelName(record.model), version: version, packageId: registered.packageId,
            packageSize: Int64(registered.package.size), rolloutId: record.id, allowDowngrade: version == record.baseline)
    }

    private struct CatalogFailure: Error {
        let text: String
    }

    // MARK: - Reading

    private func view(_ record: RolloutRecord) async throws -> RolloutView {
        let targets = try await targetDevices(LabelSelector(parsing: record.selector))
        let statuses = await monitor.allStatuses().filter { Set(targets).contains($0.device) }
        let onModel = statuses.filter { $0.modelName == record.model }
        let assigned: Int =
            switch record.state {
            case .pending, .rollingBack, .rolledBack: 0
            case .observing(let phase, _), .paused(let phase, _):
                RolloutCohort.select(targets, share: record.plan.phases[phase], salt: record.salt).count
            case .completed: targets.count
            }
        let since: Int64 =
            switch record.state {
            case .observing(_, let since): since
            default: record.updatedAt
            }
        return RolloutView(
            record: record,
            progress: .init(
                target: targets.count, assigned: assigned,
                onCandidate: onModel.filter { $0.modelVersion == record.candidate }.count,
                onBaseline: record.baseline.map { baseline in onModel.filter { $0.modelVersion == baseline }.count } ?? 0),
            health: windows[record.id].flatMap { $0.since == since ? $0.health(minSamples: record.plan.minSamples) : nil }
                ?? PhaseHealth.aggregate(
                    statuses, model: record.model, candidate: record.candidate, baseline: record.baseline, since: since),
            events: try await store.rolloutEvents(id: record.id, limit: settings.eventLimit))
    }

    /// The gates' view of `record` since `since`: the phase window's sums, with the telemetry
    /// that arrived since the last tick added. Once no target device runs the baseline (the last
    /// phase), the baseline's latest stored aggregates stand in for it.
    private func health(_ record: RolloutRecord, since: Int64) async throws -> PhaseHealth {
        let targets = Set(try await targetDevices(LabelSelector(parsing: record.selector)))
        let statuses = await monitor.allStatuses().filter { targets.contains($0.device) }
        var window = windows[record.id].flatMap { $0.since == since ? $0 : nil } ?? PhaseWindow(since: since)
        window.add(statuses, model: record.model, candidate: record.candidate, baseline: record.baseline)
        windows[record.id] = window
        var health = window.health(minSamples: record.plan.minSamples)
        let byName = Dictionary(uniqueKeysWithValues: health.baseline.map { ($0.key.rawValue, $0.value) })
        if !byName.isEmpty {
            if byName != record.baselineMetrics { try await store.setRolloutBaselineMetrics(id: record.id, metrics: byName) }
        } else {
            for (name, value) in record.baselineMetrics {
                if let metric = HealthGate.Metric(rawValue: name) { health.baseline[metric] = value }
            }
        }
        return health
    }

    func rollout(_ id: String) async throws -> RolloutRecord {
        guard let record = try await store.rollout(id: id) else { throw RolloutError(.notFound, "there is no rollout '\(id)'") }
        return record
    }

    private func registeredVersion(model: String, _ text: String, what: String) async throws -> ModelVersion {
        guard let version = SemanticVersion(text) else {
            throw RolloutError(.invalidPlan, "\(what) '\(text)' is not a semantic version like 1.2.0")
        }
        do {
            return try await registry.version(model: model, version: version)
        } catch let error as RegistryError where error.code == .notFound {
            throw RolloutError(.notFound, "\(what) \(text) of '\(model)' is not registered")
        }
    }

    private func resolveTarget(_ target: String) async throws -> LabelSelector {
        guard target.hasPrefix("group:") else { return try LabelSelector(parsing: target) }
        let name = String(target.dropFirst("group:".count))
        guard let group = try await store.groups().first(where: { $0.name == name }) else {
            throw RolloutError(.notFound, "there is no device group '\(name)'")
        }
        return try LabelSelector(parsing: group.selector)
    }

    /// Enrolled devices matching `selector`, in id order.
    func targetDevices(_ selector: LabelSelector) async throws -> [String] {
        var result: [String] = []
        var page = PageRequest(limit: PageRequest.maxLimit)
        while true {
            let devices = try await store.devices(page: page)
            result += devices.items.filter { $0.state == .enrolled && selector.matches($0.labels) }.map(\.id)
            guard let next = devices.next else { return result }
            page.cursor = next
        }
    }

    /// The explicit baseline, else the `production` alias, else the version most target
    /// devices report (ties to the higher version); never the candidate.
    private func chooseBaseline(_ request: RolloutRequest, candidate: ModelVersion, targets: [String]) async throws
        -> ModelVersion?
    {
        if let text = request.baseline {
            let baseline = try await registeredVersion(model: request.model, text, what: "baseline")
            guard baseline.version != candidate.version else {
                throw RolloutError(.invalidPlan, "the baseline must differ from the candidate \(candidate.version)")
            }
            return baseline
        }
        if let production = try? await registry.resolve(model: request.model, alias: "production"),
            production.version != candidate.version
        {
            return production
        }
        let wanted = Set(targets)
        var counts: [SemanticVersion: Int] = [:]
        for status in await monitor.allStatuses()
        where wanted.contains(status.device) && status.modelName == request.model {
            if let text = status.modelVersion, let version = SemanticVersion(text), version != candidate.version {
                counts[version, default: 0] += 1
            }
        }
        guard let best = counts.max(by: { ($0.value, $0.key) < ($1.value, $1.key) })?.key else { return nil }
        return try? await registry.version(model: request.model, version: best)
    }

    func log(_ id: String, _ text: String) async {
        try? await store.appendRolloutEvent(id: id, time: now(), text: text)
    }

    static func name(_ state: RolloutState) -> String {
        switch state {
        case .pending: "pending"
        case .observing(let phase, _): "observing phase \(phase + 1)"
        case .paused(let phase, _): "paused in phase \(phase + 1)"
        case .rollingBack: "rolling back"
        case .rolledBack: "rolled back"
        case .completed: "completed"
        }
    }

    private static func randomHex(_ bytes: Int) -> String {
        (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }
}
