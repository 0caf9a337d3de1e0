/// How the agent takes part in federated rounds (the `federated.*` configuration keys).
public struct FederatedConfiguration: Sendable, Equatable {
    /// False: every task is declined with a `skipped` event.
    public var enabled: Bool
    /// The most recent labelled predictions used for local training and evaluation.
    public var maxExamples: Int
    /// A CSV file with the model's feature columns and its label column, added to the feedback rows.
    public var localDataFile: String?
    /// The nice value of the training thread (0 to 19; higher yields more to serving).
    public var niceness: Int
    /// An update frame larger than this goes out in parts of this size (`FLUpdatePartFrame`).
    public var maxMessageBytes: Int

    /// A configuration; by default enabled, 5000 examples, no local data file, niceness 10,
    /// parts of 256 KiB.
    public init(
        enabled: Bool = true, maxExamples: Int = 5000, localDataFile: String? = nil, niceness: Int = 10,
        maxMessageBytes: Int = 262_144
    ) {
        self.maxMessageBytes = maxMessageBytes
        self.enabled = enabled
        self.maxExamples = maxExamples
        self.localDataFile = localDataFile
        self.niceness = niceness
    }
}
