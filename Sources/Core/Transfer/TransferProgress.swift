/// Where a `ChunkFetcher` stands: what is on disk, and what it took to get there.
public struct TransferProgress: Sendable, Equatable {
    /// The package being fetched.
    public var packageId: String
    /// Chunks in the package (nil until the head is known).
    public var chunkCount: Int?
    /// Payload bytes in the package (nil until the head is known).
    public var totalBytes: Int?
    /// Chunks on disk and verified.
    public var chunksReceived = 0
    /// Payload bytes on disk and verified.
    public var bytesReceived = 0
    /// Chunks that were already on disk when the fetcher started (a resumed transfer).
    public var chunksResumed = 0
    /// Chunk files found damaged on disk (on opening or assembling) and fetched again.
    public var chunksDiscarded = 0
    /// Fetch requests published.
    public var requestsSent = 0
    /// Chunk indices asked for, repeats included.
    public var chunksRequested = 0
    /// Chunks (and heads) asked for again: after a timeout, a refused copy, or a reconnect.
    public var rerequested = 0
    /// Outstanding requests that went unanswered within the timeout.
    public var timeouts = 0
    /// Frames for chunks already on disk (or a head already known), ignored.
    public var duplicates = 0
    /// Frames of other packages, ignored.
    public var foreignFrames = 0
    /// Messages on the reply topic that are not valid chunk frames, ignored.
    public var malformedFrames = 0
    /// Chunk frames that came before the head, ignored (asked for again later if needed).
    public var earlyFrames = 0
    /// Copies refused by their checks, by error code (`chunkDigestMismatch`, `chunkTruncated`,
    /// `chunkOversized`, `chunkIndexOutOfRange`, or the head's verification error).
    public var rejected: [ArtifactError.Code: Int] = [:]
    /// Connections lost during the transfer.
    public var disconnects = 0
    /// Whether the package was assembled and verified.
    public var isComplete = false

    /// A fresh progress for `packageId`.
    public init(packageId: String) {
        self.packageId = packageId
    }

    /// All refused copies.
    public var rejectedTotal: Int { rejected.values.reduce(0, +) }

    /// Received share of the payload, 0...1 (0 until the head is known).
    public var fraction: Double {
        guard let totalBytes, totalBytes > 0 else { return isComplete ? 1 : 0 }
        return Double(bytesReceived) / Double(totalBytes)
    }
}
