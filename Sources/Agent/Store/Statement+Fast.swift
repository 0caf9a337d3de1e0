import GRDB
import GRDBSQLite

/// Binding and stepping a prepared statement through SQLite's C API, for the two hot inserts
/// (predictions and labels): GRDB's `StatementArguments` boxes every value, which costs more
/// than the insert itself at 100k rows/s.
extension Statement {
    /// SQLite copies the bound bytes (`SQLITE_TRANSIENT`).
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    /// Binds `value` (or NULL) to the 1-based parameter `index`.
    func bindText(_ value: String?, at index: Int32) {
        guard var value else {
            sqlite3_bind_null(sqliteStatement, index)
            return
        }
        value.withUTF8 { bytes in
            _ = bytes.withMemoryRebound(to: CChar.self) { chars in
                sqlite3_bind_text(sqliteStatement, index, chars.baseAddress, Int32(chars.count), Self.transient)
            }
        }
    }

    /// Binds `value` to the 1-based parameter `index`.
    func bindInteger(_ value: Int64, at index: Int32) {
        sqlite3_bind_int64(sqliteStatement, index, value)
    }

    /// Runs the bound statement to completion and resets it; throws SQLite's error.
    func stepToEnd(_ db: Database) throws {
        let code = sqlite3_step(sqliteStatement)
        sqlite3_reset(sqliteStatement)
        guard code == SQLITE_DONE || code == SQLITE_ROW else {
            let message = db.sqliteConnection.map { String(cString: sqlite3_errmsg($0)) }
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: sql)
        }
    }
}
