import Core
import GRDB

/// Everything that can go wrong in the hub's storage: the database and the artifact store.
///
/// The code is stable for scripts, tests and the HTTP layer; the message says what is wrong and
/// what to do; the underlying error (from SQLite or the file system) is kept for logs.
public struct HubStoreError: DomainError {
    /// Kinds of failure.
    public enum Code: String, Sendable {
        /// The database or the artifact directory could not be opened or configured.
        case openFailed
        /// A schema migration failed; the database keeps its previous schema.
        case migrationFailed
        /// The database was written by a newer hub (it has migrations this build does not know).
        case newerSchema
        /// A row with the same key exists (a model name, a version, a pending approval).
        case conflict
        /// A row refers to one that does not exist (a version of another model, an unknown model).
        case notFound
        /// The schema refused the change: an immutable row, an append-only table, a four-eyes rule.
        case refused
        /// A value breaks a rule (a malformed cursor, a digest that is not SHA-256 hex).
        case invalidArgument
        /// An artifact is not in the artifact store.
        case artifactMissing
        /// An artifact's bytes no longer match their digest (damaged on disk).
        case artifactCorrupt
        /// SQLite or the file system failed while reading or writing.
        case ioFailed
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

extension HubStoreError {
    /// Runs `body`, turning SQLite constraint failures into `conflict`, `notFound` or `refused`,
    /// and any other error that is not already a `HubStoreError` into `ioFailed`, with `what`
    /// (e.g. "registering a version") in the message.
    static func wrap<T>(_ what: String, _ body: () async throws -> T) async throws(HubStoreError) -> T {
        do {
            return try await body()
        } catch {
            throw classify(error, what)
        }
    }

    /// The `HubStoreError` for an error thrown while `what`.
    static func classify(_ error: any Error, _ what: String) -> HubStoreError {
        if let error = error as? HubStoreError { return error }
        guard let database = error as? DatabaseError else {
            return HubStoreError(.ioFailed, "the hub store failed \(what)", underlying: error)
        }
        let detail = database.message ?? "constraint failed"
        switch database.extendedResultCode {
        case .SQLITE_CONSTRAINT_UNIQUE, .SQLITE_CONSTRAINT_PRIMARYKEY:
            return HubStoreError(.conflict, "\(what) conflicts with an existing record: \(detail)", underlying: error)
        case .SQLITE_CONSTRAINT_FOREIGNKEY:
            return HubStoreError(.notFound, "\(what) refers to a record that does not exist", underlying: error)
        case .SQLITE_CONSTRAINT_TRIGGER, .SQLITE_CONSTRAINT_CHECK, .SQLITE_CONSTRAINT_NOTNULL:
            return HubStoreError(.refused, "the store refused \(what): \(detail)", underlying: error)
        default:
            return HubStoreError(.ioFailed, "the hub store failed \(what)", underlying: error)
        }
    }
}
