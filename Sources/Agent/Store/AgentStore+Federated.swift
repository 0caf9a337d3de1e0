import GRDB

/// What the agent keeps about one federated round it takes part in.
public struct FederatedRoundState: Sendable, Equatable {
    /// The round's id.
    public var roundID: String
    /// Where the agent is in the round ("accepted", "training", "sent", "skipped", ...).
    public var status: String
    /// When it last changed, ms since the Unix epoch.
    public var updated: Int64
    /// Anything else the federated client keeps, as a JSON object (key/value).
    public var state: String

    /// A round's state.
    public init(roundID: String, status: String, updated: Int64, state: String = "{}") {
        self.roundID = roundID
        self.status = status
        self.updated = updated
        self.state = state
    }
}

extension AgentStore {
    /// Saves (adds or replaces) a round's state.
    public func saveFederatedRound(_ round: FederatedRoundState) async throws(StoreError) {
        guard !round.roundID.isEmpty, !round.status.isEmpty else {
            throw StoreError(.invalidRecord, "federated round: the round id and status must not be empty")
        }
        try await StoreError.wrap("saving a federated round") {
            try await pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO federated_rounds (round_id, status, updated, state) VALUES (?, ?, ?, ?)
                        ON CONFLICT (round_id) DO UPDATE SET
                          status = excluded.status, updated = excluded.updated, state = excluded.state
                        """, arguments: [round.roundID, round.status, round.updated, round.state])
            }
        }
    }

    /// The state of round `roundID`, if the agent has one.
    public func federatedRound(_ roundID: String) async throws(StoreError) -> FederatedRoundState? {
        try await federatedRounds(where: "round_id = ?", roundID).first
    }

    /// Rounds with `status` (every round when nil), most recently updated first.
    public func federatedRounds(status: String? = nil) async throws(StoreError) -> [FederatedRoundState] {
        if let status { return try await federatedRounds(where: "status = ?", status) }
        return try await federatedRounds(where: "1 = 1", nil)
    }

    private func federatedRounds(where filter: String, _ value: String?) async throws(StoreError) -> [FederatedRoundState] {
        let arguments: StatementArguments = value.map { [$0] } ?? []
        return try await StoreError.wrap("reading federated rounds") {
            try await pool.read { db in
                try Row.fetchAll(
                    db,
                    sql:
                        "SELECT round_id, status, updated, state FROM federated_rounds WHERE \(filter) ORDER BY updated DESC, round_id",
                    arguments: arguments
                ).map { row in FederatedRoundState(roundID: row[0], status: row[1], updated: row[2], state: row[3]) }
            }
        }
    }
}
