import Core
import Synchronization

/// Keeps the drift recorders of the served models and moves their windows to the store: closed
/// windows become `DriftReport` outbox messages on `devices/{id}/drift` (saved as reported in
/// the same transaction), open windows are saved every `flushInterval` so a crash loses little,
/// and `flush()` (on shutdown) closes and reports the partial windows.
///
/// A recorder for a new version of a model closes the window of the version it replaces.
/// Windows a previous run saved but did not report are reported by `recover()`, which `run()`
/// calls before its first flush.
public final class DriftService: Sendable {
    /// What one `tick`, `flush` or `recover` did.
    public struct Report: Sendable {
        /// Windows saved as reported with their message enqueued.
        public var reported = 0
        /// Open windows saved (not reported yet).
        public var checkpointed = 0
        /// Failures; windows that failed in the store are retried on the next call.
        public var errors: [DriftError] = []
    }

    /// The settings.
    public let configuration: DriftConfiguration
    /// The store windows and messages go to.
    public let store: AgentStore
    /// The topic reports are published on.
    public let topic: Topic
    private let now: @Sendable () -> Int64
    private let sleep: @Sendable (Duration) async throws -> Void
    private let state = Mutex(State())

    private struct State {
        /// The current recorder of each model name.
        var current: [String: DriftRecorder] = [:]
        /// Recorders of replaced versions, kept until they have nothing left.
        var retired: [DriftRecorder] = []
        /// Closed windows whose store write failed, retried first.
        var pending: [SketchedWindow] = []
    }

    /// The most failed windows kept for retry; older ones are dropped.
    public static let maxPendingWindows = 256

    /// A service writing to `store` for `device`; `now` gives ms since the Unix epoch, `clock`
    /// paces `run()`.
    public init<C: Clock>(
        store: AgentStore, device: DeviceID, configuration: DriftConfiguration = DriftConfiguration(),
        now: @escaping @Sendable () -> Int64 = StoreConfiguration.wallClockMilliseconds, clock: C = ContinuousClock()
    ) throws(DriftError) where C.Duration == Duration {
        try configuration.validate()
        self.configuration = configuration
        self.store = store
        topic = .drift(device)
        self.now = now
        sleep = { try await clock.sleep(for: $0) }
    }

    /// The recorder to give the `ServedModel` of `version` of `model`; the recorder of another
    /// version of the same name is closed and retired. Nil when drift is disabled.
    public func recorder(name: String, version: String, model: Model) throws(DriftError) -> DriftRecorder? {
        guard configuration.enabled else { return nil }
        if let existing = state.withLock({ $0.current[name] }), existing.modelVersion == version { return existing }
        let recorder = try DriftRecorder(name: name, version: version, model: model, configuration: configuration, now: now)
        let replaced = state.withLock { state in
            defer { state.current[name] = recorder }
            return state.current[name]
        }
        if let replaced {
            replaced.close()
            state.withLock { $0.retired.append(replaced) }
        }
        return recorder
    }

    /// The recorders in use (current and retired).
    public var recorders: [DriftRecorder] {
        state.withLock { state in state.current.values.sorted { $0.modelName < $1.modelName } + state.retired }
    }

    // MARK: - Moving windows to the store

    /// Closes due windows, reports every closed window, saves changed open windows, and forgets
    /// retired recorders with nothing left.
    @discardableResult
    public func tick() async -> Report {
        var result = Report()
        for recorder in recorders { recorder.roll() }
        await reportClosed(&result)
        for recorder in recorders {
            guard let open = recorder.checkpoint() else { continue }
            do {
                try await store.saveDriftWindow(try open.stored())
                result.checkpointed += 1
            } catch {
                result.errors.append(Self.storeError(error, open))
            }
        }
        state.withLock { $0.retired.removeAll { $0.isIdle } }
        return result
    }

    /// Closes every open window now and reports it (call on shutdown).
    @discardableResult
    public func flush() async -> Report {
        for recorder in recorders { recorder.close() }
        var result = Report()
        await reportClosed(&result)
        return result
    }

    /// Reports the windows a previous run saved but did not report (open when it stopped). A
    /// row that cannot become a valid report is marked reported, so it is not retried forever.
    @discardableResult
    public func recover() async -> Report {
        var result = Report()
        let stored: [DriftWindow]
        do {
            stored = try await store.unreportedDriftWindows(limit: 10_000)
        } catch {
            result.errors.append(DriftError(.storeFailed, "the unreported drift windows cannot be read", underlying: error))
            return result
        }
        for row in stored {
            do throws(DriftError) {
                try await report(SketchedWindow(row))
                result.reported += 1
            } catch {
                result.errors.append(error)
                guard error.code != .storeFailed else { continue }
                try? await store.markDriftWindowReported(
                    modelName: row.modelName, modelVersion: row.modelVersion, start: row.start)
            }
        }
        return result
    }

    /// Recovers, then ticks every `flushInterval` until the task is cancelled, then flushes.
    public func run(errors: @Sendable (DriftError) -> Void = { _ in }) async {
        for error in await recover().errors { errors(error) }
        while !Task.isCancelled {
            do { try await sleep(configuration.flushInterval) } catch { break }
            for error in await tick().errors { errors(error) }
        }
        // The store refuses work from a cancelled task, so the last flush runs in a task of its own.
        let last = await Task { await self.flush() }.value
        for error in last.errors { errors(error) }
    }

    private func reportClosed(_ result: inout Report) async {
        var windows = state.withLock { state in
            defer { state.pending = [] }
            return state.pending
        }
        for recorder in recorders { windows += recorder.takeClosed() }
        var failed: [SketchedWindow] = []
        for window in windows {
            do throws(DriftError) {
                try await report(window)
                result.reported += 1
            } catch {
                result.errors.append(error)
                if error.code == .storeFailed { failed.append(window) }
            }
        }
        guard !failed.isEmpty else { return }
        state.withLock { state in
            state.pending = Array((failed + state.pending).suffix(Self.maxPendingWindows))
        }
    }

    /// Saves `window` as reported and enqueues its `DriftReport`, in one transaction.
    private func report(_ window: SketchedWindow) async throws(DriftError) {
        let message = try window.report(id: store.configuration.makeMessageID("drift"), time: now())
        let row = try window.stored(reported: true)
        do {
            try await store.reportDriftWindow(row, as: message, on: topic)
        } catch {
            throw Self.storeError(error, window)
        }
    }

    private static func storeError(_ error: any Error, _ window: SketchedWindow) -> DriftError {
        if let error = error as? DriftError { return error }
        let store = error as? StoreError
        // A rule the record breaks will break again; only database failures are worth a retry.
        let code: DriftError.Code = store?.code == .invalidRecord ? .invalidReport : .storeFailed
        return DriftError(
            code, "the drift window of \(window.modelName) \(window.modelVersion) at \(window.start) was not saved",
            underlying: store)
    }
}
