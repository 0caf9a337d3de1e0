import Core
import Synchronization

/// Sketches one served model version's inputs and predictions over time windows.
///
/// `observe` counts a batch into the open window under a lock held for the counting only (no
/// I/O, no allocation per value); a window that is due closes on the next `observe` or `roll`
/// and waits in memory until `takeClosed()` (the `DriftService` saves and reports it). Windows
/// are aligned to multiples of the window length since the Unix epoch; a window opens with the
/// first batch in it, so quiet periods make no windows, and never starts before the recorder
/// was made or before the previous window ended, so windows never overlap.
public final class DriftRecorder: DriftObserver {
    /// The model's name.
    public let modelName: String
    /// The model's version.
    public let modelVersion: String
    /// The feature names, in sketch order.
    public let featureNames: [String]
    let layout: DriftLayout
    private let windowLength: Int64
    private let now: @Sendable () -> Int64
    private let state: Mutex<State>

    private struct OpenWindow {
        var start: Int64
        var end: Int64
        var accumulator: DriftAccumulator
    }

    private struct State {
        var open: OpenWindow?
        var closed: [SketchedWindow] = []
        /// The earliest start of the next window.
        var notBefore: Int64
        /// Whether the open window changed since the last `checkpoint`.
        var changed = false
        /// Closed windows dropped because nobody took them.
        var dropped = 0
    }

    /// The most closed windows kept waiting for `takeClosed()`; older ones are dropped.
    public static let maxWaitingWindows = 64

    /// A recorder for `version` of `model` named `name`; `now` gives ms since the Unix epoch.
    public init(
        name: String, version: String, model: Model, configuration: DriftConfiguration = DriftConfiguration(),
        now: @escaping @Sendable () -> Int64
    ) throws(DriftError) {
        try configuration.validate()
        guard !version.isEmpty, version.utf8.count <= 64,
            !version.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else {
            throw DriftError(
                .unsupportedModel,
                "model version '\(version.prefix(80))' cannot be reported (1 to 64 bytes, no control characters)")
        }
        guard IdentifierRules.isValid(name) else {
            throw DriftError(.unsupportedModel, "model name '\(name.prefix(80))' is not a protocol identifier")
        }
        layout = try DriftLayout(model: model, configuration: configuration)
        modelName = name
        modelVersion = version
        featureNames = layout.featureNames
        windowLength = max(1, configuration.windowMilliseconds)
        self.now = now
        state = Mutex(State(notBefore: now()))
    }

    // MARK: - Serving path

    /// Counts one batch into the open window, first closing the window if it is due.
    public func observe(feeds: [[Float]], rows: Int, outputs: [Tensor]) {
        let time = now()
        state.withLock { state in
            closeIfDue(&state, at: time)
            if state.open == nil {
                let aligned = time - ((time % windowLength) + windowLength) % windowLength
                let start = max(aligned, state.notBefore)
                state.open = OpenWindow(
                    start: start, end: max(aligned + windowLength, start + 1), accumulator: DriftAccumulator(layout: layout))
            }
            state.open!.accumulator.add(feeds: feeds, rows: rows, outputs: outputs)
            state.changed = true
        }
    }

    // MARK: - Windows

    /// Closes the open window if its end has passed.
    public func roll() {
        let time = now()
        state.withLock { closeIfDue(&$0, at: time) }
    }

    /// Closes the open window now, whatever its end (shutdown, or a newer version took over).
    public func close() {
        let time = now()
        state.withLock { state in
            guard let open = state.open else { return }
            close(&state, open, at: min(open.end, max(time, open.start + 1)))
        }
    }

    /// The closed windows not yet taken, oldest first; they are the caller's from now on.
    public func takeClosed() -> [SketchedWindow] {
        state.withLock { state in
            defer { state.closed = [] }
            return state.closed
        }
    }

    /// The open window as it stands (ending now), if it changed since the last checkpoint.
    public func checkpoint() -> SketchedWindow? {
        let time = now()
        return state.withLock { state in
            guard state.changed, let open = state.open else { return nil }
            state.changed = false
            return window(open, end: min(open.end, max(time, open.start + 1)))
        }
    }

    /// Closed windows dropped because they waited past `maxWaitingWindows`.
    public var droppedWindows: Int { state.withLock { $0.dropped } }

    /// Whether nothing is open or waiting to be taken.
    public var isIdle: Bool { state.withLock { $0.open == nil && $0.closed.isEmpty } }

    private func closeIfDue(_ state: inout State, at time: Int64) {
        guard let open = state.open, time >= open.end else { return }
        close(&state, open, at: open.end)
    }

    private func close(_ state: inout State, _ open: OpenWindow, at end: Int64) {
        if state.closed.count >= Self.maxWaitingWindows {
            state.closed.removeFirst()
            state.dropped += 1
        }
        state.closed.append(window(open, end: end))
        state.open = nil
        state.notBefore = end
        state.changed = false
    }

    private func window(_ open: OpenWindow, end: Int64) -> SketchedWindow {
        SketchedWindow(
            modelName: modelName, modelVersion: modelVersion, start: open.start, end: end,
            sketches: open.accumulator.sketches())
    }
}
