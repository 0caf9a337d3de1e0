extension ChunkFetcher {
    /// How a fetcher paces, waits and gives up.
    public struct Configuration: Sendable {
        /// Chunks (or the head) outstanding at once: requested and not yet arrived.
        public var window: Int
        /// How long to wait for a requested piece before asking again. The clock stops while
        /// the transport is disconnected.
        public var timeout: Duration
        /// Unanswered requests of one piece before the transfer fails (`timedOut`).
        public var maxTimeouts: Int
        /// Refused copies of one piece (wrong digest, truncated, oversized, bad head) before the
        /// transfer fails (`chunkRefused`, `headRefused`).
        public var maxRejections: Int
        /// The reply sub-topic (`devices/{id}/chunks/{stream}`); nil derives one from the package id.
        public var stream: String?
        /// Fsync every chunk file (see `ChunkStore`); off by default, since every chunk is checked
        /// again on opening and assembling, so a chunk torn by a power cut is fetched again.
        public var syncEachChunk: Bool
        /// Largest frame payload accepted; the package's chunk size is smaller.
        public var maxFrameBytes: Int

        /// The defaults: 16 chunks outstanding (4 MiB at the default chunk size), 10 s timeout,
        /// 6 timeouts or 3 refused copies of one piece before giving up.
        public init(
            window: Int = 16, timeout: Duration = .seconds(10), maxTimeouts: Int = 6, maxRejections: Int = 3,
            stream: String? = nil, syncEachChunk: Bool = false, maxFrameBytes: Int = ChunkFrame.maxPayloadBytes
        ) {
            self.window = window
            self.timeout = timeout
            self.maxTimeouts = maxTimeouts
            self.maxRejections = maxRejections
            self.stream = stream
            self.syncEachChunk = syncEachChunk
            self.maxFrameBytes = maxFrameBytes
        }

        /// Checks every setting; the error names the key.
        public func validate() throws(TransferError) {
            func fail(_ key: String, _ why: String) -> TransferError {
                TransferError(.invalidArgument, "chunk fetcher configuration '\(key)': \(why)")
            }
            guard (1...FetchRequest.maxChunks).contains(window) else {
                throw fail("window", "must be 1...\(FetchRequest.maxChunks) chunks, got \(window)")
            }
            guard timeout > .zero else { throw fail("timeout", "must be positive") }
            guard maxTimeouts >= 1 else { throw fail("maxTimeouts", "must be at least 1") }
            guard maxRejections >= 0 else { throw fail("maxRejections", "must not be negative") }
            if let stream {
                do { try IdentifierRules.check(stream, kind: "chunk stream") } catch { throw fail("stream", error.message) }
            }
            guard (1...ChunkFrame.maxPayloadBytes).contains(maxFrameBytes) else {
                throw fail("maxFrameBytes", "must be 1...\(ChunkFrame.maxPayloadBytes)")
            }
        }
    }
}
