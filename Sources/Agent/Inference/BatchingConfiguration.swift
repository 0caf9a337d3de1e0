/// How the micro-batcher groups concurrent requests of one model version into one int8 run.
public struct BatchingConfiguration: Sendable, Equatable {
    /// Most rows (samples) in one run; a single larger request still runs, alone.
    public var maxBatch: Int
    /// How long the first request of a batch waits for others when the model is idle. Zero
    /// runs at once; requests that arrive while a batch runs form the next batch either way.
    public var maxWait: Duration
    /// Most rows waiting to run; past it requests are refused with 503 instead of queueing.
    public var maxQueuedRows: Int

    /// A configuration; the defaults favour latency (no deliberate wait).
    public init(maxBatch: Int = 32, maxWait: Duration = .zero, maxQueuedRows: Int = 4096) {
        self.maxBatch = maxBatch
        self.maxWait = maxWait
        self.maxQueuedRows = maxQueuedRows
    }

    /// Checks the values; the error names the bad one.
    public func validate() throws(InferenceError) {
        guard maxBatch >= 1 else {
            throw InferenceError(.invalidRequest, "batching maxBatch must be at least 1, got \(maxBatch)")
        }
        guard maxWait >= .zero else {
            throw InferenceError(.invalidRequest, "batching maxWait must not be negative, got \(maxWait)")
        }
        guard maxQueuedRows >= maxBatch else {
            throw InferenceError(
                .invalidRequest, "batching maxQueuedRows (\(maxQueuedRows)) must be at least maxBatch (\(maxBatch))")
        }
    }
}
