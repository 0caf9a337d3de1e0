/// Where federated rounds are kept, so a hub restart resumes them mid-iteration.
public protocol FederatedStore: Sendable {
    /// Adds a round with the coordinator's first snapshot (and its audit row); `conflict` if the id exists.
    func insertRound(_ round: RoundRecord, state: [UInt8], change: ChangeContext) async throws(HubStoreError)
    /// The round `id`, if any.
    func round(id: String) async throws(HubStoreError) -> RoundRecord?
    /// The coordinator snapshot of round `id`, if any.
    func roundState(id: String) async throws(HubStoreError) -> [UInt8]?
    /// Rounds, newest first; only running ones with `activeOnly`.
    func rounds(activeOnly: Bool) async throws(HubStoreError) -> [RoundRecord]
    /// Stores a running round's progress: iterations closed, their summaries and the snapshot
    /// (not audited: it is the round's own bookkeeping). `conflict` if it is no longer running.
    func saveRoundProgress(id: String, iterations: Int, history: [IterationSummary], state: [UInt8], time: Int64)
        async throws(HubStoreError)
    /// Ends running round `id` with `status` (and the audit row); `conflict` if it already ended.
    func finishRound(id: String, status: RoundStatus, resultVersion: String?, message: String?, change: ChangeContext)
        async throws(HubStoreError) -> RoundRecord
    /// Appends `text` to round `id`'s event log.
    func appendRoundEvent(id: String, time: Int64, text: String) async throws(HubStoreError)
    /// Round `id`'s latest `limit` events, oldest first.
    func roundEvents(id: String, limit: Int) async throws(HubStoreError) -> [RolloutEvent.Logged]
}
