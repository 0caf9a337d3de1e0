extension ChunkServer {
    /// How a server subscribes and how much it takes on.
    public struct Configuration: Sendable {
        /// Share group of the fetch subscription (`$share/{group}/...`, one hub replica answers each
        /// request); nil subscribes without sharing (a single hub).
        public var shareGroup: String?
        /// Frames published at once; the transport's in-flight window paces them further. Also
        /// bounds the chunk bytes held in memory (one chunk per publish).
        public var concurrentPublishes: Int
        /// Frames queued per device, at most; a request that would go over is refused (`queueFull`).
        public var maxQueuedPerDevice: Int
        /// Request ids remembered per server, so a redelivered request is served once.
        public var rememberedRequests: Int
        /// Refusals kept in `recentRefusals`, newest last.
        public var recentRefusalLimit: Int
        /// Chunk payload bytes sent per second overall, at most (bursts of one second's worth);
        /// nil for no limit beyond `concurrentPublishes` and the transport's window.
        public var maxBytesPerSecond: Int?

        /// The defaults: shared as `hub`, 16 publishes at once, 4,096 queued frames per device.
        public init(
            shareGroup: String? = Subscription.hubShareGroup, concurrentPublishes: Int = 16, maxQueuedPerDevice: Int = 4096,
            rememberedRequests: Int = 4096, recentRefusalLimit: Int = 64, maxBytesPerSecond: Int? = nil
        ) {
            self.maxBytesPerSecond = maxBytesPerSecond
            self.shareGroup = shareGroup
            self.concurrentPublishes = concurrentPublishes
            self.maxQueuedPerDevice = maxQueuedPerDevice
            self.rememberedRequests = rememberedRequests
            self.recentRefusalLimit = recentRefusalLimit
        }

        /// Checks every setting; the error names the key.
        public func validate() throws(TransferError) {
            func fail(_ key: String, _ why: String) -> TransferError {
                TransferError(.invalidArgument, "chunk server configuration '\(key)': \(why)")
            }
            if let shareGroup {
                do { try IdentifierRules.check(shareGroup, kind: "share group") } catch {
                    throw fail("shareGroup", error.message)
                }
            }
            guard (1...1024).contains(concurrentPublishes) else { throw fail("concurrentPublishes", "must be 1...1024") }
            guard maxQueuedPerDevice >= FetchRequest.maxChunks + 1 else {
                throw fail("maxQueuedPerDevice", "must hold at least one full request (\(FetchRequest.maxChunks + 1) frames)")
            }
            guard rememberedRequests >= 1 else { throw fail("rememberedRequests", "must be at least 1") }
            guard recentRefusalLimit >= 0 else { throw fail("recentRefusalLimit", "must not be negative") }
            if let maxBytesPerSecond, maxBytesPerSecond < 1024 {
                throw fail("maxBytesPerSecond", "must be at least 1024 (one chunk must fit a second's budget)")
            }
        }

        /// The filter the server subscribes to.
        public var filter: String {
            let plain = Subscription.filter(forEvery: .fetch)
            return shareGroup.map { "$share/\($0)/\(plain)" } ?? plain
        }
    }

    /// Why a fetch request was refused (nothing is sent for it).
    public enum RefusalReason: String, Sendable, CaseIterable {
        /// The message did not arrive on a `devices/{id}/fetch` topic.
        case notAFetchTopic
        /// The payload is not a valid `FetchRequest` (JSON, fields, version, size).
        case malformedRequest
        /// The reply topic lies outside the requester's own `devices/{id}/chunks` subtree.
        case foreignReplyTopic
        /// This hub does not serve the package.
        case unknownPackage
        /// A chunk index is not below the package's chunk count.
        case chunkOutOfRange
        /// The requester already has `maxQueuedPerDevice` frames waiting.
        case queueFull
    }

    /// A refused request, for logs: why, who asked (when the topic said so), and the details.
    public struct Refusal: Sendable, Equatable {
        /// Why it was refused.
        public var reason: RefusalReason
        /// The requesting device, if the topic named one.
        public var device: DeviceID?
        /// What was wrong, for a person.
        public var detail: String
    }

    /// The server's counters.
    public struct Statistics: Sendable, Equatable {
        /// Messages handled (valid or not).
        public var requests = 0
        /// Requests served (at least partly queued).
        public var accepted = 0
        /// Redelivered requests (an id seen before) that were ignored.
        public var duplicateRequests = 0
        /// Refused requests by reason.
        public var refused: [RefusalReason: Int] = [:]
        /// Frames asked for that were already queued for the same reply topic, and not queued twice.
        public var coalesced = 0
        /// Head frames published.
        public var headsSent = 0
        /// Chunk frames published.
        public var chunksSent = 0
        /// Payload bytes of the chunk frames published.
        public var bytesSent = 0
        /// Frames that could not be read from the catalog (damaged or missing files).
        public var readFailures = 0
        /// Frames the transport did not publish (closed, refused).
        public var publishFailures = 0
        /// Frames waiting to be published now.
        public var queued = 0
        /// Chunk frames published, by package id.
        public var chunksSentByPackage: [String: Int] = [:]

        /// All refused requests.
        public var refusedTotal: Int { refused.values.reduce(0, +) }
    }
}
