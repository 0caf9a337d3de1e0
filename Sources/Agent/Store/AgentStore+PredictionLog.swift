/// The inference service logs predictions and attaches labels through `PredictionLog`; the store
/// is its durable implementation (`record` never blocks; `attachFeedback` is durable on return
/// and throws `StoreError`).
extension AgentStore: PredictionLog {}
