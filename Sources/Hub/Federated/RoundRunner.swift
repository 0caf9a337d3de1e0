import Core
import Crypto
import Foundation

/// Drives federated rounds: starts them, sends each iteration's task to the selected devices,
/// checks and folds in their updates as they arrive, closes iterations at quorum or deadline,
/// and registers the result as a new version with its lineage.
///
/// The coordinator's snapshot (global parameters, open iteration, the strategy's partial
/// aggregate) is stored after every accepted update and every iteration, so a restarted hub
/// resumes a round where it was: it re-sends the open iteration's task to the devices that have
/// not answered, and an update that arrives for a closed iteration is refused as late.
public actor RoundRunner {
    /// The runner's settings.
    public struct Settings: Sendable, Equatable {
        /// How often running rounds are checked for quorum and deadlines.
        public var tickInterval: Duration
        /// Events shown with a round.
        public var eventLimit: Int
        /// Times an iteration may open again after too few answers before the round fails.
        public var maxRetries: Int

        /// Settings.
        public init(tickInterval: Duration = .milliseconds(250), eventLimit: Int = 50, maxRetries: Int = 3) {
            self.tickInterval = tickInterval
            self.eventLimit = eventLimit
            self.maxRetries = maxRetries
        }
    }

    /// Updates refused, by reason, and other counts since the runner started (for /metrics).
    public struct Counters: Sendable, Equatable {
        /// Updates folded in.
        public var accepted = 0
        /// Updates refused, by reason.
        public var rejected: [String: Int] = [:]
        /// Iterations closed.
        public var iterations = 0
        /// Task bytes published.
        public var bytesDown = 0
        /// Update payload bytes received.
        public var bytesUp = 0
    }

    /// The principal of the runner's own changes in the audit log.
    public static let subject = "hub-rounds"
    /// The δ at which DP rounds report ε.
    public static let privacyDelta = 1e-5

    private struct Live {
        var record: RoundRecord
        var coordinator: RoundCoordinator
        var base: Model
        var keys: [String: Curve25519.Signing.PublicKey] = [:]
        var frame: [UInt8] = []
        var rejected: [String: Int] = [:]
        var retries = 0
    }

    private let store: any FederatedStore & FleetStore & RolloutStore
    private let registry: RegistryService
    private let monitor: FleetMonitor
    private let transport: (any MessageTransport)?
    private let settings: Settings
    private let now: @Sendable () -> Int64
    private var live: [String: Live] = [:]
    /// Rounds whose next iteration is being opened now.
    private var opening: Set<String> = []
    /// Large updates arriving in parts (`FLUpdatePartFrame`), until the last one.
    private var parts = FLUpdateAssembler()
    /// What the runner counted since it started.
    public private(set) var counters = Counters()

    /// A runner; without a transport, rounds start but no task reaches a device.
    public init(
        store: any FederatedStore & FleetStore & RolloutStore, registry: RegistryService, monitor: FleetMonitor,
        transport: (any MessageTransport)?, settings: Settings = Settings(), now: @escaping @Sendable () -> Int64
    ) {
        self.store = store
        self.registry = registry
        self.monitor = monitor
        self.transport = transport
        self.settings = settings
        self.now = now
    }

    // MARK: - Operators

    /// Checks `request`, stores the round and opens its first iteration (if enough devices are
    /// eligible now; else the runner keeps trying until the first deadline).
    public func start(_ request: RoundRequest, by principal: Principal) async throws -> RoundView {
        try principal.require(.operator)
        var request = request
        // DP noise must not be predictable: a secret seed per round, kept with the round so a
        // restarted hub adds the same noise.
        if request.privacy != nil, request.privacy?.seed == nil { request.privacy?.seed = UInt64.random(in: 1...UInt64.max) }
        try request.validate()
        for active in try await store.rounds(activeOnly: true) where active.model == request.model {
            throw RoundError(.conflict, "round '\(active.id)' of '\(request.model)' is still running; cancel it or wait")
        }
        let base = try await baseVersion(request)
        let selector = try await resolveSelector(request.select)
        let bytes = try await registry.modelFileBytes(model: request.model, version: base.version)
        let model: Model
        do {
            model = try ModelFile.decode(bytes)
        } catch {
            throw RoundError(.invalidRequest, "version \(base.version) of '\(request.model)' cannot be read: \(error.message)")
        }
        let layout = ParameterLayout(graph: model.graph)
        guard layout.count > 0 else { throw RoundError(.invalidRequest, "'\(request.model)' \(base.version) has no trainable parameters") }
        let strategy = try StrategyFactory.make(
            request.strategy ?? RoundRequest.Defaults.strategy, options: request.strategyOptions ?? [:], mu: request.mu,
            privacy: request.privacy)
        let id = "fl-" + Self.randomHex(5)
        let coordinator: RoundCoordinator
        do {
            coordinator = try RoundCoordinator(
                roundId: id, modelName: ModelName(request.model), baseVersion: base.version.description, layout: layout,
                global: try layout.flatten(model.graph), settings: try request.settings(), strategy: strategy)
        } catch let error as FederationError {
            throw RoundError(.invalidRequest, error.message)
        } catch let error as ProtocolError {
            throw RoundError(.invalidRequest, error.message)
        }
        var filled = request
        filled.fromVersion = base.version.description
        filled.select = selector.description
        let time = now()
        let record = RoundRecord(
            id: id, model: request.model, baseVersion: base.version.description, selector: selector.description,
            request: filled, status: .running, iterations: 0, history: [], resultVersion: nil, message: nil,
            createdAt: time, createdBy: principal.subject, updatedAt: time)
        try await store.insertRound(
            record, state: try coordinator.snapshot(), change: ChangeContext(subject: principal.subject, time: time))
        live[id] = Live(record: record, coordinator: coordinator, base: model)
        await log(id, "started by \(principal.subject): \(record.request.rounds ?? 1) iteration(s) of \(coordinator.strategyName) from \(record.baseVersion) on '\(record.selector)' (\(layout.count) parameters)")
        await advance(id)
        return try await view(id: id)
    }

    /// Cancels running round `id`.
    public func cancel(id: String, reason: String?, by principal: Principal) async throws -> RoundView {
        try principal.require(.operator)
        guard let record = try await store.round(id: id) else { throw RoundError(.notFound, "there is no round '\(id)'") }
        guard record.status == .running else {
            throw RoundError(.invalidTransition, "round '\(id)' already ended (\(record.status.rawValue))")
        }
        live[id] = nil
        let why = reason.flatMap { $0.isEmpty ? nil : $0 } ?? "cancelled by \(principal.subject)"
        _ = try await store.finishRound(
            id: id, status: .cancelled, resultVersion: nil, message: why, change: ChangeContext(subject: principal.subject, time: now()))
        await log(id, why)
        return try await view(id: id)
    }

    /// Round `id` with its latest events.
    public func view(id: String) async throws -> RoundView {
        guard let record = try await store.round(id: id) else { throw RoundError(.notFound, "there is no round '\(id)'") }
        let open = live[id]?.coordinator.iteration
        return RoundView(
            record: record.redacted,
            open: open.map { RoundView.Open(number: $0.number, kind: $0.kind, selected: $0.selected.count, answered: $0.answered.count, deadline: $0.deadline) },
            events: try await store.roundEvents(id: id, limit: settings.eventLimit))
    }

    /// Rounds, newest first (redacted for the API).
    public func list(activeOnly: Bool = false) async throws -> [RoundRecord] {
        try await store.rounds(activeOnly: activeOnly).map(\.redacted)
    }

    // MARK: - Driving

    /// Resumes stored running rounds, then checks them every tick until cancelled.
    public func run() async {
        await resume()
        while !Task.isCancelled {
            await tick()
            try? await Task.sleep(for: settings.tickInterval)
        }
    }

    /// Loads running rounds from the store and re-sends open tasks to devices that have not answered.
    public func resume() async {
        guard let records = try? await store.rounds(activeOnly: true) else { return }
        for record in records where live[record.id] == nil {
            do {
                guard let state = try await store.roundState(id: record.id) else { continue }
                let strategy = try StrategyFactory.make(
                    record.request.strategy ?? RoundRequest.Defaults.strategy, options: record.request.strategyOptions ?? [:],
                    mu: record.request.mu, privacy: record.request.privacy)
                let coordinator = try RoundCoordinator(restoring: state, strategy: strategy)
                let bytes = try await registry.modelFileBytes(model: record.model, version: SemanticVersion(record.baseVersion)!)
                var entry = Live(record: record, coordinator: coordinator, base: try ModelFile.decode(bytes))
                if coordinator.iteration != nil { entry.frame = try coordinator.taskFrame().encoded() }
                live[record.id] = entry
                if let open = coordinator.iteration {
                    await log(record.id, "resumed after a restart in iteration \(open.number) (\(open.answered.count)/\(open.selected.count) answered)")
                    let pending = open.selected.filter { !open.answered.contains($0) }
                    await loadKeys(record.id, devices: open.selected)
                    await sendTask(record.id, to: pending)
                } else {
                    await log(record.id, "resumed after a restart after iteration \(coordinator.completed)")
                }
            } catch {
                await fail(record.id, "cannot resume: \(error)")
            }
        }
    }

    /// Closes iterations that reached quorum or their deadline, and opens the next.
    public func tick() async {
        for id in live.keys.sorted() { await advance(id) }
    }

    /// Handles an `fl/update` frame from the broker.
    public func handle(_ message: Message) async {
        guard case .flUpdate(let device)? = try? Topic(parsing: message.topic) else { return }
        var bytes = message.payload
        if FLUpdatePartFrame.isPart(bytes) {
            // A large update comes in parts; it is handled once the last one is in.
            do {
                let part = try FLUpdatePartFrame(parsing: bytes)
                guard let whole = try parts.add(part, from: device.rawValue, now: now()) else { return }
                bytes = whole
            } catch {
                count(.malformed)
                return
            }
        }
        let frame: FLUpdateFrame
        do {
            frame = try FLUpdateFrame(parsing: bytes)
        } catch {
            count(.malformed)
            return
        }
        let roundId = frame.header.unverified.roundId
        guard var entry = live[roundId] else {
            count(.late)
            if let record = try? await store.round(id: roundId) {
                await log(record.id, "refused an update from \(device.rawValue) after the round ended")
            }
            return
        }
        let verdict = entry.coordinator.receive(frame, from: device.rawValue, key: entry.keys[device.rawValue], now: now())
        switch verdict {
        case .accepted:
            counters.accepted += 1
            counters.bytesUp += frame.payload.count
        case .rejected(let reason, let why):
            entry.rejected[reason.rawValue, default: 0] += 1
            count(reason)
            live[roundId] = entry
            await log(roundId, "refused an update: \(why)")
            return
        }
        live[roundId] = entry
        await persist(roundId)
        if entry.coordinator.allAnswered { await advance(roundId) }
    }

    /// Notes a device's federated `skipped` or `failed` event in its round's log, so an operator
    /// sees why an iteration is short of answers (no key, too few examples, the profile's budget).
    public func handleEvent(_ message: Message) async {
        guard case .events(let device)? = try? Topic(parsing: message.topic),
            let event = try? MessageCodec.decode(DeviceEvent.self, from: message.payload), event.kind == .federated,
            event.phase == .skipped || event.phase == .failed, let round = event.rolloutId, live[round] != nil
        else { return }
        let what = event.phase == .skipped ? "skipped the task" : "failed"
        await log(round, "\(device.rawValue) \(what): \(event.reason ?? "no reason given")")
    }

    private func count(_ reason: UpdateRejection) {
        counters.rejected[reason.rawValue, default: 0] += 1
    }

    /// One step of round `id`: close the open iteration when it is done, open the next when none is.
    private func advance(_ id: String) async {
        guard let entry = live[id] else { return }
        let time = now()
        if let open = entry.coordinator.iteration {
            let quorum = entry.coordinator.allAnswered
            guard quorum || time > open.deadline else { return }
            let minClients = min(entry.record.request.minClients ?? RoundRequest.Defaults.minClients, open.selected.count)
            if open.answered.count >= max(minClients, 1) {
                await close(id)
            } else {
                var e = entry
                e.coordinator.abandon()
                e.retries += 1
                live[id] = e
                await log(id, "iteration \(open.number) got \(open.answered.count) of \(open.selected.count) answers by its deadline (min \(minClients)); retry \(e.retries)")
                if e.retries > settings.maxRetries {
                    await fail(id, "iteration \(open.number) did not reach \(minClients) answers in \(settings.maxRetries + 1) tries")
                    return
                }
                await persist(id)
            }
            return
        }
        let planned = entry.record.request.rounds ?? RoundRequest.Defaults.rounds
        let total = planned + ((entry.record.request.evaluate ?? true) ? 1 : 0)
        if entry.coordinator.completed >= total {
            await finish(id)
            return
        }
        await open(id, kind: entry.coordinator.completed >= planned ? "evaluate" : "fit")
    }

    private func open(_ id: String, kind: String) async {
        // One opening per round at a time: selection awaits the store, and a tick arriving then
        // must not open the same iteration again with another selection.
        guard !opening.contains(id) else { return }
        opening.insert(id)
        defer { opening.remove(id) }
        guard let record = live[id]?.record else { return }
        let eligible: [String]
        do {
            eligible = try await eligibleDevices(record, kind: kind)
        } catch {
            await fail(id, "cannot select devices: \(error)")
            return
        }
        // Read again after the await: the round may have ended or moved on meanwhile.
        guard var entry = live[id], entry.coordinator.iteration == nil else { return }
        let request = entry.record.request
        let minClients = request.minClients ?? RoundRequest.Defaults.minClients
        guard eligible.count >= minClients else {
            // Wait for devices to come online; give up after the deadline's worth of ticks.
            let waited = now() - entry.record.createdAt
            if entry.coordinator.completed == 0, waited > (try? request.deadlineMillis()) ?? 300_000 {
                await fail(id, "only \(eligible.count) eligible device(s); the round needs \(minClients)")
            }
            return
        }
        let fraction = request.fraction ?? RoundRequest.Defaults.fraction
        let wanted = kind == "evaluate" ? eligible.count : max(minClients, Int((Double(eligible.count) * fraction).rounded(.up)))
        let chosen = Array(eligible.shuffled().prefix(wanted)).sorted()
        let time = now()
        do {
            let frame = try entry.coordinator.open(
                selected: chosen, now: time, deadline: time + (try request.deadlineMillis()), kind: kind)
            entry.frame = try frame.encoded()
        } catch {
            await fail(id, "cannot open iteration \(entry.coordinator.completed + 1): \(error)")
            return
        }
        entry.rejected = [:]
        live[id] = entry
        await persist(id)
        await loadKeys(id, devices: chosen)
        let number = entry.coordinator.completed + 1
        await log(id, "iteration \(number) (\(kind)) asks \(chosen.count) of \(eligible.count) eligible device(s)")
        await sendTask(id, to: chosen)
    }

    private func close(_ id: String) async {
        guard var entry = live[id] else { return }
        let result: IterationResult
        do {
            result = try entry.coordinator.close()
        } catch {
            await fail(id, "cannot aggregate: \(error)")
            return
        }
        let s = result.state
        let e = s.evaluation
        let summary = IterationSummary(
            number: s.number, kind: s.kind, selected: s.selected.count, participants: s.answered, accuracy: e.accuracy,
            loss: e.loss, evalExamples: e.examples, trainLoss: e.trainLoss, bytesDown: entry.frame.count * s.selected.count,
            bytesUp: s.bytesReceived, rejected: entry.rejected, millis: now() - s.openedAt)
        entry.record.history.append(summary)
        if let privacy = entry.record.request.privacy, privacy.noiseMultiplier > 0 {
            // Every fit iteration so far is one step of the subsampled Gaussian mechanism.
            var accountant = RDPAccountant()
            let steps = entry.record.history.filter { $0.kind == "fit" }.count
            accountant.compose(
                noiseMultiplier: privacy.noiseMultiplier, samplingRate: entry.record.request.fraction ?? 1, steps: steps)
            let delta = Self.privacyDelta
            entry.record.history[entry.record.history.count - 1].epsilon = accountant.epsilon(delta: delta).epsilon
            entry.record.history[entry.record.history.count - 1].delta = delta
        }
        entry.record.iterations = entry.coordinator.completed
        entry.retries = 0
        live[id] = entry
        counters.iterations += 1
        await persist(id)
        let accuracy = e.accuracy.map { String(format: "%.4f", $0) } ?? "n/a"
        await log(id, "iteration \(s.number) (\(s.kind)) closed: \(s.answered.count)/\(s.selected.count) answered, federated accuracy \(accuracy) on \(e.examples) examples")
    }

    private func finish(_ id: String) async {
        guard let entry = live[id] else { return }
        let request = entry.record.request
        var model = entry.base
        do {
            try entry.coordinator.layout.apply(entry.coordinator.global, to: &model.graph)
            model.quantization = nil
            if (request.quantize ?? "dynamic") == "dynamic" { model = try Quantizer().quantize(model) }
            model.metadata.source = "federated"
            let baseVersion = SemanticVersion(entry.record.baseVersion)!
            let version = request.version.flatMap(SemanticVersion.init) ?? SemanticVersion(baseVersion.major, baseVersion.minor + 1, 0)
            let participants = Set(entry.record.history.flatMap(\.participants)).sorted()
            let fits = entry.record.history.filter { $0.kind == "fit" }
            let last = entry.record.history.last
            var metadata: [String: JSONValue] = [
                "round": .string(id), "strategy": .string(entry.coordinator.strategyName),
                "iterations": .number(Double(fits.count)), "participants": .array(participants.map { .string($0) }),
            ]
            if let accuracy = last?.accuracy { metadata["federatedAccuracy"] = .number(accuracy) }
            if let loss = last?.loss { metadata["federatedLoss"] = .number(loss) }
            let registered = try await registry.registerVersion(
                model: entry.record.model, version: version, modelFile: try ModelFile.encode(model), metadata: metadata,
                lineage: Lineage(parent: baseVersion, federatedRound: id),
                by: Principal(subject: Self.subject, role: .operator))
            live[id] = nil
            _ = try await store.finishRound(
                id: id, status: .completed, resultVersion: registered.version.description, message: nil,
                change: ChangeContext(subject: Self.subject, time: now()))
            await log(id, "completed: registered \(entry.record.model) \(registered.version)")
        } catch {
            await fail(id, "cannot register the result: \(error)")
        }
    }

    private func fail(_ id: String, _ why: String) async {
        live[id] = nil
        _ = try? await store.finishRound(
            id: id, status: .failed, resultVersion: nil, message: why, change: ChangeContext(subject: Self.subject, time: now()))
        await log(id, "failed: \(why)")
    }

    private func persist(_ id: String) async {
        guard let entry = live[id], let state = try? entry.coordinator.snapshot() else { return }
        try? await store.saveRoundProgress(
            id: id, iterations: entry.coordinator.completed, history: entry.record.history, state: state, time: now())
    }

    private func sendTask(_ id: String, to devices: [String]) async {
        guard let transport, let frame = live[id]?.frame, !frame.isEmpty, !devices.isEmpty else { return }
        var failures = 0
        for device in devices {
            do {
                try await transport.publish(
                    Message(topic: Topic.flTask(DeviceID(unchecked: device)).name, payload: frame, qos: .atLeastOnce, retain: false))
                counters.bytesDown += frame.count
            } catch {
                failures += 1
            }
        }
        if failures > 0 { await log(id, "could not send the task to \(failures) device(s); they may miss the iteration") }
    }

    /// Reads the enrolled public keys of `devices` that round `id` does not hold yet.
    private func loadKeys(_ id: String, devices: [String]) async {
        guard let known = live[id]?.keys else { return }
        var found: [String: Curve25519.Signing.PublicKey] = [:]
        for device in devices where known[device] == nil {
            if let hex = try? await store.device(id: device)?.signingKey, let raw = PackageDigest.bytes(hex: hex),
                let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw)
            {
                found[device] = key
            }
        }
        live[id]?.keys.merge(found) { old, _ in old }
    }

    /// Enrolled devices matching the round's selector, with a signing key, online, serving the
    /// round's model, not degraded, and not on the candidate of a failing rollout (paused or
    /// rolling back). For `fit` iterations also, as their latest telemetry reports, able to
    /// train (federated learning on, a key, a profile that allows training) and holding at least
    /// the round's `minExamples` labelled examples; a device that does not report these is asked
    /// anyway and decides itself.
    private func eligibleDevices(_ record: RoundRecord, kind: String) async throws -> [String] {
        let selector = try LabelSelector(parsing: record.selector)
        let failing = Set(
            try await store.rollouts(activeOnly: true).filter { rollout in
                guard rollout.model == record.model else { return false }
                switch rollout.state {
                case .paused, .rollingBack: return true
                default: return false
                }
            }.map(\.candidate))
        let minExamples = record.request.minExamples ?? 1
        var result: [String] = []
        var page = PageRequest(limit: PageRequest.maxLimit)
        while true {
            let devices = try await store.devices(page: page)
            for device in devices.items where device.state == .enrolled && device.signingKey != nil && selector.matches(device.labels) {
                guard let status = await monitor.status(of: device.id), status.presence == .online,
                    status.modelName == record.model, status.health() != .degraded,
                    !failing.contains(status.modelVersion ?? "")
                else { continue }
                if kind == "fit", let telemetry = status.telemetry {
                    if telemetry.canTrain == false { continue }
                    if let labelled = telemetry.labelledExamples, labelled < minExamples { continue }
                }
                result.append(device.id)
            }
            guard let next = devices.next else { return result }
            page.cursor = next
        }
    }

    private func baseVersion(_ request: RoundRequest) async throws -> ModelVersion {
        if let text = request.fromVersion {
            guard let version = SemanticVersion(text) else {
                throw RoundError(.invalidRequest, "from-version '\(text)' is not a semantic version like 1.2.0")
            }
            do {
                return try await registry.version(model: request.model, version: version)
            } catch let error as RegistryError where error.code == .notFound {
                throw RoundError(.notFound, "version \(text) of '\(request.model)' is not registered")
            }
        }
        if let production = try? await registry.resolve(model: request.model, alias: "production") { return production }
        let versions: Page<ModelVersion>
        do {
            versions = try await registry.versions(model: request.model, page: PageRequest(limit: 1))
        } catch let error as RegistryError where error.code == .notFound {
            throw RoundError(.notFound, "there is no model '\(request.model)'")
        }
        guard let latest = versions.items.first else {
            throw RoundError(.notFound, "'\(request.model)' has no registered version to start from")
        }
        return latest
    }

    private func resolveSelector(_ text: String?) async throws -> LabelSelector {
        guard let text, !text.isEmpty else { return LabelSelector([]) }
        guard text.hasPrefix("group:") else { return try LabelSelector(parsing: text) }
        let name = String(text.dropFirst("group:".count))
        guard let group = try await store.groups().first(where: { $0.name == name }) else {
            throw RoundError(.notFound, "there is no device group '\(name)'")
        }
        return try LabelSelector(parsing: group.selector)
    }

    private func log(_ id: String, _ text: String) async {
        try? await store.appendRoundEvent(id: id, time: now(), text: text)
    }

    private static func randomHex(_ bytes: Int) -> String {
        PackageDigest.hex((0..<bytes).map { _ in UInt8.random(in: 0...255) })
    }
}

/// A round as the API shows it: the stored record, the open iteration and the latest events.
public struct RoundView: Sendable, Equatable, Encodable {
    /// The iteration in progress.
    public struct Open: Sendable, Equatable, Codable {
        /// 1-based.
        public var number: Int
        /// `fit` or `evaluate`.
        public var kind: String
        /// Devices asked.
        public var selected: Int
        /// Devices whose update was accepted so far.
        public var answered: Int
        /// When it closes at the latest, ms since the epoch.
        public var deadline: Int64
    }

    /// The stored round.
    public var record: RoundRecord
    /// The open iteration, if any.
    public var open: Open?
    /// The latest events, oldest first.
    public var events: [RolloutEvent.Logged]

    private enum Keys: String, CodingKey { case open, events }

    public func encode(to encoder: any Encoder) throws {
        try record.encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encodeIfPresent(open, forKey: .open)
        try c.encode(events, forKey: .events)
    }
}
