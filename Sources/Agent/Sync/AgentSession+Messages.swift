import Core
import Synchronization

/// What the session publishes: status (online, offline, the last will) and telemetry.
extension AgentSession {
    // MARK: - Status

    /// The last will to put in the transport's configuration: the retained `offline` status the
    /// broker publishes when the connection dies without a clean close. Its time is now (when
    /// the session begins).
    public static func lastWill(device: DeviceID, profile: String, agentVersion: String) throws(SyncError) -> Message {
        let status = DeviceStatus(
            id: StoreConfiguration.randomMessageID("will"), time: StoreConfiguration.wallClockMilliseconds(),
            state: .offline, agentVersion: agentVersion, firmwareProfile: profile, reason: "connection lost")
        return try message(status, on: .status(device))
    }

    /// Publishes the retained `online` status again, e.g. after a new model version became
    /// active. Does nothing unless the session is online.
    public func refreshStatus() async {
        guard machine.state == .online else { return }
        await announceOnline()
    }

    func announceOnline() async {
        let model = currentModel()
        let status = DeviceStatus(
            id: makeMessageID("status"), time: wallClock(), state: .online, agentVersion: configuration.agentVersion,
            firmwareProfile: configuration.firmwareProfile, modelName: model?.name,
            modelVersion: model.flatMap { Self.sendable($0.version) })
        await publish(status)
    }

    /// Publishes `offline`, giving up after `stopTimeout` (the broker may be unreachable; the
    /// transport is closed right after, which fails a publish still waiting).
    func announceOffline(reason: String) async {
        let model = currentModel()
        let status = DeviceStatus(
            id: makeMessageID("status"), time: wallClock(), state: .offline, agentVersion: configuration.agentVersion,
            firmwareProfile: configuration.firmwareProfile, modelName: model?.name,
            modelVersion: model.flatMap { Self.sendable($0.version) },
            reason: String(decoding: reason.utf8.prefix(256), as: UTF8.self))
        guard let message = try? Self.message(status, on: .status(configuration.device)) else { return }
        lastStatus = status
        let transport = self.transport
        let clock = self.clock
        let timeout = configuration.stopTimeout
        let first = FirstOf()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            first.arm(continuation)
            first.track(
                Task {
                    try? await transport.publish(message); first.finish()
                })
            first.track(
                Task {
                    try? await clock.sleep(for: timeout); first.finish()
                })
        }
        first.cancelAll()
    }

    private func publish(_ status: DeviceStatus) async {
        guard let message = try? Self.message(status, on: .status(configuration.device)) else { return }
        lastStatus = status
        // A publish that fails (closed while stopping) is not retried: the next connection
        // announces again.
        try? await transport.publish(message)
    }

    // MARK: - Telemetry

    /// Builds the telemetry of the window that ends now and publishes it at QoS 1.
    func sendTelemetry() async {
        let telemetry = await makeTelemetry()
        guard let message = try? Self.message(telemetry, on: .telemetry(configuration.device)) else { return }
        try? await transport.publish(message)
    }

    /// The telemetry of the window that ends now; the next window starts here.
    func makeTelemetry() async -> Telemetry {
        let end = max(wallClock(), windowStart + 1)
        let start = windowStart
        windowStart = end
        let serving = window.snapshotAndReset()
        let process = sampler.sample()
        let feedback =
            (try? await store.feedbackSummary(from: start, to: end)) ?? FeedbackSummary(count: 0, comparable: 0, matched: 0)
        let model = currentModel()
        let readiness: (canTrain: Bool, labelledExamples: Int?)? =
            if let model, let trainingReadiness { await trainingReadiness(model.name.rawValue) } else { nil }
        return Telemetry(
            id: makeMessageID("telemetry"), time: end, windowMs: end - start, modelName: model?.name,
            modelVersion: model.flatMap { Self.sendable($0.version) }, predictions: serving.predictions,
            errorRate: serving.errorRate, latencyP50Ms: serving.latencyP50Ms, latencyP95Ms: serving.latencyP95Ms,
            feedbackCount: feedback.count, feedbackAccuracy: feedback.accuracy, cpuPercent: process.cpuPercent,
            rssBytes: process.rssBytes, diskUsedBytes: process.diskUsedBytes, canTrain: readiness?.canTrain,
            labelledExamples: readiness?.labelledExamples)
    }

    /// Reports federated readiness in telemetry from now on (`FederatedService.readiness`).
    public func reportTrainingReadiness(_ readiness: @escaping @Sendable (String) async -> (canTrain: Bool, labelledExamples: Int?)) {
        trainingReadiness = readiness
    }

    // MARK: - Encoding

    static func message<M: ControlMessage>(_ value: M, on topic: Topic) throws(SyncError) -> Message {
        do {
            return try topic.message(value)
        } catch {
            throw SyncError(.invalidConfiguration, "the \(M.schema) message cannot be sent: \(error.message)", underlying: error)
        }
    }

    /// `version` if it fits a protocol message's model version field (1 to 64 bytes).
    static func sendable(_ version: String) -> String? {
        (1...64).contains(version.utf8.count) ? version : nil
    }
}

/// Resumes a continuation when the first of several tasks finishes, then cancels the others.
final class FirstOf: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Void, Never>?
        var done = false
        var tasks: [Task<Void, Never>] = []
    }

    private let state = Mutex(State())

    func arm(_ continuation: CheckedContinuation<Void, Never>) {
        state.withLock { $0.continuation = continuation }
    }

    func track(_ task: Task<Void, Never>) {
        state.withLock { $0.tasks.append(task) }
    }

    func finish() {
        let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.done else { return nil }
            state.done = true
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume()
    }

    func cancelAll() {
        for task in state.withLock({ $0.tasks }) { task.cancel() }
    }
}
