#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What the store keeps of a prediction's inputs.
public enum InputLogging: String, Sendable, Codable, CaseIterable {
    /// The inputs as JSON, and their SHA-256 digest.
    case full
    /// Only the SHA-256 digest of the inputs (privacy): enough to match duplicates and audit,
    /// not to train on.
    case digestOnly
}

/// How large the database may grow, and how far pruning brings it back down.
public struct StorageBudget: Sendable, Equatable {
    /// The most bytes the database file, its WAL and shared-memory file may take together.
    public var maxBytes: Int64
    /// Pruning stops once the files are at or below `maxBytes * targetFraction` (hysteresis, so
    /// the store does not prune on every write).
    public var targetFraction: Double

    /// A budget of `maxBytes`, pruned down to `targetFraction` of it.
    public init(maxBytes: Int64, targetFraction: Double = 0.8) {
        self.maxBytes = maxBytes
        self.targetFraction = targetFraction
    }

    /// The size pruning aims for.
    public var targetBytes: Int64 { Int64(Double(maxBytes) * targetFraction) }
}

/// Settings of an `AgentStore`: `Sendable`, with defaults, validated once by `validate()`.
public struct StoreConfiguration: Sendable {
    /// Where the database file lives; its WAL and shared-memory files sit beside it.
    public var path: String
    /// What is kept of prediction inputs.
    public var inputLogging: InputLogging
    /// Predictions waiting for the writer, at most; past it `record` drops the prediction and
    /// counts it (the serving path never waits for the disk).
    public var predictionQueueCapacity: Int
    /// The storage budget; nil means unbounded.
    public var budget: StorageBudget?
    /// The writer checks the budget after writing this many predictions (and `enforceBudget()`
    /// can be called at any time).
    public var budgetCheckInterval: Int
    /// How long a connection waits for a lock held by another before failing.
    public var busyTimeout: Duration
    /// Milliseconds since the Unix epoch; injected so tests control time.
    public var now: @Sendable () -> Int64
    /// Makes a new message id for an outbox row (unique across restarts and re-created files).
    public var makeMessageID: @Sendable (_ prefix: String) -> String

    /// A configuration for the database at `path` with defaults for everything else.
    public init(
        path: String,
        inputLogging: InputLogging = .full,
        predictionQueueCapacity: Int = 8192,
        budget: StorageBudget? = nil,
        budgetCheckInterval: Int = 10_000,
        busyTimeout: Duration = .seconds(5),
        now: @escaping @Sendable () -> Int64 = StoreConfiguration.wallClockMilliseconds,
        makeMessageID: @escaping @Sendable (_ prefix: String) -> String = StoreConfiguration.randomMessageID
    ) {
        self.path = path
        self.inputLogging = inputLogging
        self.predictionQueueCapacity = predictionQueueCapacity
        self.budget = budget
        self.budgetCheckInterval = budgetCheckInterval
        self.busyTimeout = busyTimeout
        self.now = now
        self.makeMessageID = makeMessageID
    }

    /// Checks every setting; the error names the one at fault.
    public func validate() throws(StoreError) {
        guard !path.isEmpty else { throw StoreError(.openFailed, "store.path is empty; give the database file's path") }
        guard predictionQueueCapacity >= 1 else {
            throw StoreError(.openFailed, "store.predictionQueueCapacity is \(predictionQueueCapacity); it must be at least 1")
        }
        guard budgetCheckInterval >= 1 else {
            throw StoreError(.openFailed, "store.budgetCheckInterval is \(budgetCheckInterval); it must be at least 1")
        }
        guard busyTimeout >= .zero else { throw StoreError(.openFailed, "store.busyTimeout is negative") }
        if let budget {
            guard budget.maxBytes >= 256 * 1024 else {
                throw StoreError(
                    .openFailed, "store.budget.maxBytes is \(budget.maxBytes); it must be at least 262144 bytes (256 KiB)")
            }
            guard budget.targetFraction > 0, budget.targetFraction <= 1 else {
                throw StoreError(.openFailed, "store.budget.targetFraction is \(budget.targetFraction); it must be in (0, 1]")
            }
        }
    }

    /// The wall clock in milliseconds since the Unix epoch.
    public static func wallClockMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }

    /// `prefix-` followed by a random UUID in lowercase: a valid protocol identifier that no
    /// other row, restart or re-created database will reuse.
    public static func randomMessageID(_ prefix: String) -> String {
        "\(prefix)-\(UUID().uuidString.lowercased())"
    }
}
