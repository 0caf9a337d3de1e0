import Synchronization

/// A `PredictionLog` in memory, for tests: keeps every record and label, with an optional
/// capacity past which `record` drops.
public final class InMemoryPredictionLog: PredictionLog {
    private struct State {
        var predictions: [PredictionRecord] = []
        var index: [String: Int] = [:]
        var labels: [String: String] = [:]
        var dropped = 0
    }

    private let state = Mutex(State())
    private let capacity: Int

    /// A log holding at most `capacity` predictions.
    public init(capacity: Int = .max) {
        self.capacity = capacity
    }

    @discardableResult
    public func record(_ prediction: PredictionRecord) -> Bool {
        state.withLock { state in
            guard state.predictions.count < capacity, state.index[prediction.requestID] == nil else {
                state.dropped += 1
                return false
            }
            state.index[prediction.requestID] = state.predictions.count
            state.predictions.append(prediction)
            return true
        }
    }

    public func attachFeedback(predictionID: String, label: String, time: Int64) async throws -> FeedbackResult {
        guard !label.isEmpty, label.utf8.count <= 256,
            !label.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw InferenceError(.invalidRequest, "a label has 1 to 256 bytes and no control characters")
        }
        return state.withLock { state in
            guard state.index[predictionID] != nil else { return .unknownPrediction }
            guard state.labels[predictionID] == nil else { return .alreadyLabelled }
            state.labels[predictionID] = label
            return .attached
        }
    }

    /// Every recorded prediction, in order.
    public var predictions: [PredictionRecord] { state.withLock { $0.predictions } }

    /// The label attached to `predictionID`, if any.
    public func label(of predictionID: String) -> String? { state.withLock { $0.labels[predictionID] } }

    /// Predictions `record` refused.
    public var droppedCount: Int { state.withLock { $0.dropped } }
}
