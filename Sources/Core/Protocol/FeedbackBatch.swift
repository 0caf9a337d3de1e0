/// Labels for logged predictions, batched from the agent's outbox onto `devices/{id}/feedback`.
///
/// The batch id is the outbox's idempotency key: a batch redelivered after a lost ack carries the
/// same id and the hub stores it once. Rows are also unique by `predictionId` within a device.
public struct FeedbackBatch: ControlMessage {
    /// "feedback".
    public static let schema = "feedback"
    /// The most rows in one batch.
    public static let maxRows = 1000

    /// One label attached to one logged prediction.
    public struct Row: Codable, Sendable, Equatable {
        /// The id the agent gave the prediction when it answered it.
        public var predictionId: String
        /// The label, as the caller gave it (a class name, or a number for regression).
        public var label: String
        /// When the label was attached, ms since the epoch.
        public var time: Int64

        /// A feedback row.
        public init(predictionId: String, label: String, time: Int64) {
            self.predictionId = predictionId
            self.label = label
            self.time = time
        }
    }

    /// The message id (the outbox batch id).
    public var id: String
    /// When the batch was written, ms since the epoch.
    public var time: Int64
    /// The model the predictions came from, if known.
    public var modelName: ModelName?
    /// The model version the predictions came from, if known.
    public var modelVersion: String?
    /// The labels.
    public var rows: [Row]

    /// A feedback batch.
    public init(id: String, time: Int64, modelName: ModelName? = nil, modelVersion: String? = nil, rows: [Row]) {
        self.id = id
        self.time = time
        self.modelName = modelName
        self.modelVersion = modelVersion
        self.rows = rows
    }

    /// Checks there are 1 to `maxRows` rows with valid, unique prediction ids and labels.
    public func validate() throws(ProtocolError) {
        let s = Self.schema
        try FieldCheck.text(modelVersion, s, "modelVersion", maxBytes: 64)
        guard !rows.isEmpty, rows.count <= Self.maxRows else {
            throw FieldCheck.fail(s, "rows", "must have 1 to \(Self.maxRows) rows, not \(rows.count)")
        }
        var seen = Set<String>()
        for (i, row) in rows.enumerated() {
            try FieldCheck.identifier(row.predictionId, s, "rows[\(i)].predictionId")
            guard seen.insert(row.predictionId).inserted else {
                throw FieldCheck.fail(s, "rows[\(i)].predictionId", "repeats '\(row.predictionId)'")
            }
            try FieldCheck.text(row.label, s, "rows[\(i)].label", maxBytes: 256)
            try FieldCheck.range(row.time, 0...Int64.max, s, "rows[\(i)].time")
        }
    }
}

/// A request for pieces of a package, on `devices/{id}/fetch`; the hub answers with `ChunkFrame`s
/// on the device's chunks topic (or `replyTopic`).
///
/// A receiver asks for a bounded window of chunks at a time (so broker queues stay small) and
/// asks again for whatever is missing after a disconnect: transfers resume from what is on disk.
public struct FetchRequest: ControlMessage {
    /// "fetch".
    public static let schema = "fetch"
    /// The most chunk indices in one request.
    public static let maxChunks = 1024

    /// The message id.
    public var id: String
    /// When the request was written, ms since the epoch.
    public var time: Int64
    /// The package: SHA-256 of its signed manifest bytes (`PackageHead.id`), lowercase hex.
    public var packageId: String
    /// Whether to send the package head (manifest and signature) as well.
    public var head: Bool?
    /// The chunk indices wanted (unique; may be empty when only the head is asked for).
    public var chunks: [Int]
    /// Where to send the frames: a topic in the requester's own `devices/{id}/chunks/...` subtree;
    /// absent means the requester's chunks topic.
    public var replyTopic: String?

    /// A fetch request.
    public init(id: String, time: Int64, packageId: String, head: Bool? = nil, chunks: [Int], replyTopic: String? = nil) {
        self.id = id
        self.time = time
        self.packageId = packageId
        self.head = head
        self.chunks = chunks
        self.replyTopic = replyTopic
    }

    /// Checks the package id, that something is asked for, and the chunk indices.
    public func validate() throws(ProtocolError) {
        let s = Self.schema
        try FieldCheck.digest(packageId, s, "packageId")
        guard chunks.count <= Self.maxChunks else {
            throw FieldCheck.fail(s, "chunks", "asks for \(chunks.count) chunks; ask for at most \(Self.maxChunks) at a time")
        }
        guard !chunks.isEmpty || head == true else { throw FieldCheck.fail(s, "chunks", "is empty and no head is asked for") }
        guard chunks.allSatisfy({ $0 >= 0 && $0 <= Int(UInt32.max) }) else {
            throw FieldCheck.fail(s, "chunks", "has an index outside 0...\(UInt32.max)")
        }
        guard Set(chunks).count == chunks.count else { throw FieldCheck.fail(s, "chunks", "repeats an index") }
        if let replyTopic { try TopicFilter.validateTopicName(replyTopic) }
    }

    /// The topic to answer on for a request received from `requester`: `replyTopic` if it lies in
    /// the requester's own chunks subtree, its chunks topic if absent; `invalidTopic` otherwise,
    /// so no device can direct traffic at another.
    public func replyTopic(for requester: DeviceID) throws(ProtocolError) -> String {
        guard let replyTopic else { return Topic.chunks(requester).name }
        guard case .chunks(let device) = try? Topic(parsing: replyTopic), device == requester else {
            throw ProtocolError(.invalidTopic, "fetch reply topic '\(replyTopic)' is not in \(Topic.chunks(requester).name)/...")
        }
        return replyTopic
    }
}
