import GRDB

/// One step of the update state machine, written before the step's side effects.
public struct JournalEntry: Sendable, Equatable {
    /// The entry's place in the journal (increasing).
    public var sequence: Int64
    /// The package the update is about (`PackageHead.id`).
    public var packageID: String
    /// The state left; nil for the first entry of an update.
    public var fromState: String?
    /// The state entered.
    public var toState: String
    /// When, ms since the Unix epoch.
    public var time: Int64
    /// Details for recovery and people (JSON or text), if any.
    public var detail: String?
}

extension AgentStore {
    /// Appends a transition to the update journal; durable when it returns. Returns its sequence.
    /// The journal is append-only: the schema refuses updates and deletes.
    @discardableResult
    public func appendJournal(
        packageID: String, from: String?, to: String, detail: String? = nil, time: Int64? = nil
    ) async throws(StoreError) -> Int64 {
        guard !packageID.isEmpty else { throw StoreError(.invalidRecord, "update journal: the package id is empty") }
        guard !to.isEmpty else { throw StoreError(.invalidRecord, "update journal: the state entered is empty") }
        let when = time ?? configuration.now()
        return try await StoreError.wrap("appending to the update journal") {
            try await pool.write { db in
                try db.execute(
                    sql: "INSERT INTO update_journal (package_id, from_state, to_state, time, detail) VALUES (?, ?, ?, ?, ?)",
                    arguments: [packageID, from, to, when, detail])
                return db.lastInsertedRowID
            }
        }
    }

    /// The newest journal entry (of `packageID`, if given), or nil: where recovery resumes.
    public func latestJournalEntry(packageID: String? = nil) async throws(StoreError) -> JournalEntry? {
        try await journal(packageID: packageID, newestFirst: true, limit: 1).first
    }

    /// Journal entries (of `packageID`, if given), oldest first, at most `limit`.
    public func journalEntries(packageID: String? = nil, limit: Int = 1000) async throws(StoreError) -> [JournalEntry] {
        try await journal(packageID: packageID, newestFirst: false, limit: limit)
    }

    private func journal(packageID: String?, newestFirst: Bool, limit: Int) async throws(StoreError) -> [JournalEntry] {
        let order = newestFirst ? "DESC" : "ASC"
        let filter = packageID == nil ? "" : "WHERE package_id = ?"
        let arguments: StatementArguments = packageID.map { [$0, limit] } ?? [limit]
        return try await StoreError.wrap("reading the update journal") {
            try await pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT seq, package_id, from_state, to_state, time, detail FROM update_journal
                        \(filter) ORDER BY seq \(order) LIMIT ?
                        """, arguments: arguments
                ).map { row in
                    JournalEntry(
                        sequence: row[0], packageID: row[1], fromState: row[2], toState: row[3], time: row[4],
                        detail: row[5])
                }
            }
        }
    }
}
