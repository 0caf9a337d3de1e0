/// An announcement to every device of a group, on `groups/{g}/broadcast`.
///
/// Broadcasts inform; they never order. Anything a device acts on arrives signed and addressed
/// to it (an `Assignment`) or as a task it may decline (`FLTask`).
public struct GroupBroadcast: ControlMessage {
    /// "group-broadcast".
    public static let schema = "group-broadcast"

    /// What the broadcast announces (an open set: keep unknown values, ignore them).
    public struct Kind: RawRepresentable, Codable, Hashable, Sendable {
        /// The raw value on the wire.
        public var rawValue: String
        /// A kind from its wire value.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// A new model version is available to the group (assignments follow per device).
        public static let modelAvailable = Kind(rawValue: "modelAvailable")
        /// A federated round opened for the group (see the group's FL task).
        public static let roundOpened = Kind(rawValue: "roundOpened")
        /// A federated round closed; pending work for it can stop.
        public static let roundClosed = Kind(rawValue: "roundClosed")
        /// Group settings changed (report intervals, budgets); devices re-read them.
        public static let configChanged = Kind(rawValue: "configChanged")
        /// A message for operators watching the fleet.
        public static let notice = Kind(rawValue: "notice")
    }

    /// The message id.
    public var id: String
    /// When the hub sent it, ms since the epoch.
    public var time: Int64
    /// What it announces.
    public var kind: Kind
    /// The model concerned, if any.
    public var modelName: ModelName?
    /// The model version concerned, if any.
    public var modelVersion: String?
    /// The federated round concerned, if any.
    public var roundId: String?
    /// Free text for people.
    public var text: String?
    /// After this time (ms since the epoch) the announcement is stale, if it ever is.
    public var expiresAt: Int64?

    /// A broadcast.
    public init(
        id: String, time: Int64, kind: Kind, modelName: ModelName? = nil, modelVersion: String? = nil,
        roundId: String? = nil, text: String? = nil, expiresAt: Int64? = nil
    ) {
        self.id = id
        self.time = time
        self.kind = kind
        self.modelName = modelName
        self.modelVersion = modelVersion
        self.roundId = roundId
        self.text = text
        self.expiresAt = expiresAt
    }

    /// Checks the kind, ids and texts, and that an expiry lies after the send time.
    public func validate() throws(ProtocolError) {
        let s = Self.schema
        try FieldCheck.identifier(kind.rawValue, s, "kind")
        try FieldCheck.text(modelVersion, s, "modelVersion", maxBytes: 64)
        try FieldCheck.identifier(roundId, s, "roundId")
        try FieldCheck.text(text, s, "text")
        if let expiresAt, expiresAt <= time { throw FieldCheck.fail(s, "expiresAt", "is not after the send time") }
    }
}
