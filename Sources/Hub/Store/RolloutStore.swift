/// Where rollouts are kept, so a hub restart resumes them.
public protocol RolloutStore: Sendable {
    /// Adds a rollout (and its audit row); `conflict` if the id exists.
    func insertRollout(_ rollout: RolloutRecord, change: ChangeContext) async throws(HubStoreError)
    /// The rollout `id`, if any.
    func rollout(id: String) async throws(HubStoreError) -> RolloutRecord?
    /// Rollouts, newest first; only unfinished ones with `activeOnly`.
    func rollouts(activeOnly: Bool) async throws(HubStoreError) -> [RolloutRecord]
    /// Moves rollout `id` from `expected` to `state` (and writes the audit row); `conflict` if it
    /// is no longer in `expected` (another hub replica or an operator moved it first).
    func updateRolloutState(id: String, from expected: RolloutState, to state: RolloutState, change: ChangeContext)
        async throws(HubStoreError) -> RolloutRecord
    /// Appends `text` to rollout `id`'s event log.
    func appendRolloutEvent(id: String, time: Int64, text: String) async throws(HubStoreError)
    /// Rollout `id`'s latest `limit` events, oldest first.
    func rolloutEvents(id: String, limit: Int) async throws(HubStoreError) -> [RolloutEvent.Logged]
    /// Keeps the baseline's latest aggregates of rollout `id`.
    func setRolloutBaselineMetrics(id: String, metrics: [String: Double]) async throws(HubStoreError)
}
