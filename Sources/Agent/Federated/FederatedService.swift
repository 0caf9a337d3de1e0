import Core
import Foundation

/// The agent's federated-learning client: answers the hub's `FLTaskFrame`s for this device.
///
/// For each task it checks, in order, that the device takes part (enabled, signing key, deadline,
/// the profile's training policy), that the task's model is installed with the task's parameter
/// layout, and that there are enough labelled examples; then it builds the local data (labelled
/// predictions and an optional CSV), caps the local epochs to the time budget, and runs
/// `FederatedClient` on a low-priority thread of its own. The signed update goes into the outbox
/// with the round's new state in one transaction, so it is published at QoS 1 whenever the
/// broker is reachable, across restarts, until its deadline passes.
///
/// Every task id is handled once: its state is persisted in `federated_rounds` before each side
/// effect, and a restart never trains a task again. Each step is reported as a `federated`
/// `DeviceEvent` (`started`, `finished`, `skipped` with the reason, `failed`).
public actor FederatedService {
    /// Reads the float model of an installed version (its graph, pipeline and metadata).
    public typealias ModelLoader = @Sendable (_ name: String, _ version: String) async throws -> Model

    /// What the service asks the device about when a task arrives.
    public struct Conditions: Sendable {
        /// Whether the inference service is idle.
        public var idle: @Sendable () -> Bool
        /// Whether the device runs on mains power.
        public var onMainsPower: @Sendable () -> Bool

        /// Conditions; by default always idle and on mains power.
        public init(
            idle: @escaping @Sendable () -> Bool = { true }, onMainsPower: @escaping @Sendable () -> Bool = { true }
        ) {
            self.idle = idle
            self.onMainsPower = onMainsPower
        }
    }

    /// This device.
    public nonisolated let device: DeviceID
    /// The settings.
    public nonisolated let configuration: FederatedConfiguration
    /// The counters, if metrics are exposed.
    public nonisolated let metrics: FederatedMetrics?
    let store: AgentStore
    let registry: ModelRegistry
    let policy: FirmwareProfile.TrainingPolicy
    let key: SigningKey?
    let directory: String
    let loadModel: ModelLoader
    let conditions: Conditions
    let wallClock: @Sendable () -> Int64
    let log: @Sendable (String) -> Void
    /// Tasks being handled now (a repeat of one is ignored before any await).
    var inProgress: Set<String> = []
    var work: [String: Task<Void, Never>] = [:]
    var localTable: DataTable??

    /// What telemetry reports for the hub's round selection: whether a `fit` task would be taken
    /// (enabled, a key, a profile that allows training; the momentary idle and power conditions
    /// are left to the task) and the labelled examples of `model` there are to train on.
    public func readiness(model: String) async -> (canTrain: Bool, labelledExamples: Int?) {
        let canTrain = configuration.enabled && key != nil && policy.allowed
        let count = try? await store.labelledExampleCount(modelName: model, limit: configuration.maxExamples)
        return (canTrain, count)
    }

    /// Rounds kept in `federated_rounds`; older ones are pruned.
    static let retainedRounds = 500

    /// A client for `device` signing with `key` (nil: tasks are declined), keeping its
    /// error-feedback residuals under `directory`.
    public init(
        device: DeviceID, store: AgentStore, registry: ModelRegistry, configuration: FederatedConfiguration,
        policy: FirmwareProfile.TrainingPolicy, key: SigningKey?, directory: String, loadModel: @escaping ModelLoader,
        metrics: FederatedMetrics? = nil, conditions: Conditions = Conditions(),
        wallClock: @escaping @Sendable () -> Int64 = StoreConfiguration.wallClockMilliseconds,
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.device = device
        self.store = store
        self.registry = registry
        self.configuration = configuration
        self.policy = policy
        self.key = key
        self.directory = directory
        self.loadModel = loadModel
        self.metrics = metrics
        self.conditions = conditions
        self.wallClock = wallClock
        self.log = log
    }

    // MARK: - Tasks

    /// Handles the bytes of a message on `devices/{id}/fl/task`. Returns at once; the task runs
    /// in the background (`waitForTasks()` waits for it).
    public func receive(_ payload: [UInt8]) async {
        metrics?.received.increment()
        let frame: FLTaskFrame
        do {
            frame = try FLTaskFrame(parsing: payload)
        } catch {
            metrics?.malformed.increment()
            log("federated: malformed task frame ignored: \(error.message)")
            return
        }
        let id = frame.task.id
        guard !inProgress.contains(id) else {
            metrics?.duplicates.increment()
            return
        }
        inProgress.insert(id)
        if (try? await store.federatedRound(id)) != nil {
            inProgress.remove(id)
            metrics?.duplicates.increment()
            log("federated: task \(id) was already handled; repeat ignored")
            return
        }
        let record = FederatedTaskRecord(
            status: .accepted, taskId: id, roundId: frame.task.roundId, roundNumber: frame.task.roundNumber,
            kind: frame.task.kind, modelName: frame.task.modelName.rawValue, deadline: frame.task.deadline)
        await save(record)
        work[id] = Task { await self.handle(frame, record) }
    }

    /// Waits until every task received so far is settled.
    public func waitForTasks() async {
        while let entry = work.first {
            await entry.value.value
            work[entry.key] = nil
        }
    }

    private func handle(_ frame: FLTaskFrame, _ accepted: FederatedTaskRecord) async {
        var record = accepted
        defer {
            inProgress.remove(record.taskId)
            // The training thread's malloc arena keeps what it freed; hand it back to the system.
            ProcessFootprint.releaseFreedMemory()
        }
        let task = frame.task
        let name = task.modelName.rawValue
        let version = registry.versions(of: name)?.active
        // "Only when idle" defers a fit task to the next moment no request is in flight (a gap
        // between requests is enough: training runs at low priority), up to 2 s before the
        // deadline; only then is it skipped as busy.
        if policy.onlyWhenIdle, task.kind == "fit" {
            while !conditions.idle(), wallClock() < task.deadline - 2_000, !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        let context = FederatedAdmission.Context(
            enabled: configuration.enabled, hasKey: key != nil, policy: policy, idle: conditions.idle(),
            onMains: conditions.onMainsPower(), installedVersion: version, now: wallClock())
        if let reason = FederatedAdmission.precheck(task, context) {
            return await skip(&record, reason, version: version)
        }
        guard let version, let key else { return }
        let prepared: Prepared
        do {
            prepared = try await prepare(task, version: version)
        } catch {
            return await fail(&record, error.message, version: version)
        }
        if let reason = FederatedAdmission.checkData(
            task, examples: prepared.built.data.targets.count, layoutDigest: prepared.layout.digest)
        {
            return await skip(&record, reason, version: version)
        }
        let needed = FederatedAdmission.memoryBytes(feeds: prepared.built.data.feeds, parameters: prepared.layout.count)
        if needed > policy.maxMemoryMegabytes << 20 {
            return await skip(
                &record, "training needs about \(needed >> 20) MiB; the profile allows \(policy.maxMemoryMegabytes) MiB",
                version: version)
        }
        var run = frame
        var budget = 0.0
        if task.kind == "fit" {
            budget = FederatedAdmission.budgetSeconds(task, policy: policy)
            guard
                let epochs = FederatedAdmission.epochs(
                    requested: task.localEpochs, secondsPerEpoch: prepared.secondsPerEpoch, budget: budget)
            else {
                let estimate = Int(prepared.secondsPerEpoch.rounded(.up))
                return await skip(
                    &record, "one local epoch takes about \(estimate) s; the budget is \(Int(budget)) s", version: version)
            }
            if epochs < task.localEpochs { log("federated: \(task.id): \(epochs) of \(task.localEpochs) epochs fit the budget") }
            run.task.localEpochs = epochs
        }

        record.status = .training
        await save(record)
        await report(record, phase: .started, version: version, reason: "\(prepared.built.data.targets.count) examples")

        let residualFile = ResidualFile(directory: directory + "/federated", model: name)
        let lossy = task.kind == "fit" && task.encoding != "float32"
        let start =
            lossy ? (residualFile.read(layout: prepared.layout) ?? [Float](repeating: 0, count: prepared.layout.count)) : nil
        let client = FederatedClient(device: device.rawValue, keyId: key.keyId, key: key.privateKey)
        let graph = prepared.graph
        let data = prepared.built.data
        let capped = run
        let now = wallClock()
        let seed = Self.seed(task.id)
        let started = ContinuousClock.now
        let trainingDeadline = FederatedAdmission.trainingDeadline(
            from: started, budget: budget, untilTaskDeadline: Double(record.deadline - now) / 1000)
        let result = await TrainingThread.run(niceness: configuration.niceness) {
            () -> Result<(FederatedClient.Outcome, [Float]?), FederationError> in
            var residual = start
            do throws(FederationError) {
                let outcome = try client.answer(
                    capped, graph: graph, data: data, residual: &residual, now: now, seed: seed,
                    trainingDeadline: trainingDeadline)
                return .success((outcome, residual))
            } catch {
                return .failure(error)
            }
        }
        metrics?.trainingSeconds.increment(by: max(0, started.duration(to: .now).seconds))
        switch result {
        case .failure(let error):
            await fail(&record, error.message, version: version)
        case .success(let (outcome, residual)):
            await finish(&record, outcome, residual: residual, file: residualFile, layout: prepared.layout, version: version)
        }
    }

    private func finish(
        _ record: inout FederatedTaskRecord, _ outcome: FederatedClient.Outcome, residual: [Float]?, file: ResidualFile,
        layout: ParameterLayout, version: String
    ) async {
        guard wallClock() < record.deadline else {
            return await skip(&record, "training ended after the task's deadline", version: version)
        }
        if let residual {
            do {
                try FileIO.createDirectory(directory + "/federated")
                try file.write(residual, layout: layout)
            } catch {
                log("federated: cannot keep the error-feedback residual: \(error.message)")
            }
        }
        let header = outcome.frame.header.unverified
        record.status = .queued
        record.updateId = header.id
        let parts: [[UInt8]]
        do {
            parts = try FLUpdatePartFrame.split(
                outcome.frame.encoded(), updateId: header.id, time: wallClock(), partBytes: configuration.maxMessageBytes)
        } catch {
            record.updateId = nil
            return await fail(&record, "cannot split the update into parts: \(error.message)", version: version)
        }
        do {
            try await store.saveFederatedRound(
                FederatedRoundState(
                    roundID: record.taskId, status: record.status.rawValue, updated: wallClock(), state: record.json()),
                enqueueing: header.id, topic: Topic.flUpdate(device).name, parts: parts)
            if parts.count > 1 { log("federated: \(record.taskId): the update goes out in \(parts.count) parts") }
        } catch {
            record.updateId = nil
            return await fail(&record, "cannot queue the update: \(error.message)", version: version)
        }
        metrics?.answered.increment()
        var summary = "\(header.examples) examples, \(header.epochs) epochs"
        if let accuracy = outcome.evaluation?.accuracy { summary += ", global accuracy \(Int((accuracy * 100).rounded())) %" }
        log("federated: \(record.taskId): update queued (\(summary))")
        await report(record, phase: .finished, version: version, reason: summary)
    }
}
