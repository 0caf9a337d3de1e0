/// Where and how the inference service listens.
public struct InferenceServiceConfiguration: Sendable, Equatable {
    /// TCP address to bind; loopback by default (the API has no authentication).
    public var host: String
    /// TCP port; 0 picks a free one (`InferenceService.port` tells which).
    public var port: Int
    /// A Unix domain socket path to listen on as well, if any.
    public var unixSocketPath: String?
    /// Largest request body accepted; larger ones get 413.
    public var maxBodyBytes: Int
    /// Event loop threads (inference runs on them too, one batch at a time per model version).
    public var threads: Int
    /// How long shutdown waits for requests in flight before closing connections.
    public var drainTimeout: Duration

    /// A configuration; by default 127.0.0.1:8000, 8 MiB bodies, one thread.
    public init(
        host: String = "127.0.0.1", port: Int = 8000, unixSocketPath: String? = nil, maxBodyBytes: Int = 8 << 20,
        threads: Int = 1,
        drainTimeout: Duration = .seconds(5)
    ) {
        self.host = host
        self.port = port
        self.unixSocketPath = unixSocketPath
        self.maxBodyBytes = maxBodyBytes
        self.threads = threads
        self.drainTimeout = drainTimeout
    }

    /// Checks the values; the error names the bad one.
    public func validate() throws(InferenceError) {
        guard (0...65535).contains(port) else { throw InferenceError(.invalidRequest, "port must be 0 to 65535, got \(port)") }
        guard maxBodyBytes >= 1024 else {
            throw InferenceError(.invalidRequest, "maxBodyBytes must be at least 1024, got \(maxBodyBytes)")
        }
        guard (1...64).contains(threads) else { throw InferenceError(.invalidRequest, "threads must be 1 to 64, got \(threads)") }
        if let path = unixSocketPath, path.isEmpty || path.utf8.count > 100 {
            throw InferenceError(.invalidRequest, "unixSocketPath must have 1 to 100 bytes, got \(path.utf8.count)")
        }
    }
}
