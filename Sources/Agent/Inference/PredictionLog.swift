/// Where the inference service hands each answered prediction, and where the feedback route
/// attaches ground truth to one. The agent's SQLite store implements it (`AgentStore`);
/// `InMemoryPredictionLog` is the twin for tests.
public protocol PredictionLog: Sendable {
    /// Hands over `prediction` without waiting; false when the log dropped it (full or closing).
    @discardableResult
    func record(_ prediction: PredictionRecord) -> Bool

    /// Attaches `label` to the prediction `predictionID`, given at `time` (ms since the Unix
    /// epoch). Throws when the label is not acceptable or the log fails.
    func attachFeedback(predictionID: String, label: String, time: Int64) async throws -> FeedbackResult
}
