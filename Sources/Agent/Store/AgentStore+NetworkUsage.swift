import GRDB

extension AgentStore {
    /// Adds `bytes` to what the device used of a metered network on `day` (days since the epoch, UTC).
    public func addNetworkUsage(day: Int64, bytes: Int64) async throws(StoreError) {
        guard bytes >= 0 else { throw StoreError(.invalidRecord, "network usage: \(bytes) bytes is negative") }
        try await StoreError.wrap("recording network usage") {
            try await pool.write { db in
                try db.execute(
                    sql: "INSERT INTO network_usage (day, bytes) VALUES (?, ?) ON CONFLICT (day) DO UPDATE SET bytes = bytes + excluded.bytes",
                    arguments: [day, bytes])
            }
        }
    }

    /// The bytes used of a metered network on `day` (0 if none).
    public func networkUsage(day: Int64) async throws(StoreError) -> Int64 {
        try await StoreError.wrap("reading network usage") {
            try await pool.read { db in
                try Int64.fetchOne(db, sql: "SELECT bytes FROM network_usage WHERE day = ?", arguments: [day]) ?? 0
            }
        }
    }
}
