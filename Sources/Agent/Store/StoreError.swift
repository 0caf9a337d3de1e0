import Core

/// Everything that can go wrong in the agent's SQLite store.
///
/// The code is stable for scripts and tests; the message says what is wrong and what to do; the
/// underlying error (from SQLite or the file system) is kept for logs.
public struct StoreError: DomainError {
    /// Kinds of failure.
    public enum Code: String, Sendable {
        /// The database file could not be opened or configured.
        case openFailed
        /// A schema migration failed; the database keeps its previous schema.
        case migrationFailed
        /// The database was written by a newer agent (it has migrations this build does not know).
        case newerSchema
        /// A record breaks a rule (an empty id, a label too long, a digest that is not SHA-256 hex).
        case invalidRecord
        /// The store is closed and takes no more work.
        case closed
        /// SQLite or the file system failed while reading or writing.
        case databaseFailed
    }

    /// The kind of failure.
    public var code: Code
    /// A sentence a person can act on.
    public var message: String
    /// The error from SQLite or the file system, if any.
    public var underlying: (any Error)?

    /// An error of `code`.
    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }
}

extension StoreError {
    /// Runs `body`, turning any error that is not already a `StoreError` into `databaseFailed`
    /// with `what` (e.g. "writing predictions") in the message.
    static func wrap<T>(_ what: String, _ body: () async throws -> T) async throws(StoreError) -> T {
        do {
            return try await body()
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.databaseFailed, "the store failed \(what)", underlying: error)
        }
    }
}
