/// How a kind of topic is published: direction, QoS, retain flag and payload encoding.
///
/// This table is the single source of truth for `docs/protocol.md`; publishers use
/// `Topic.message(_:)` so they cannot get it wrong.
extension Topic.Kind {
    /// How the payload of a topic kind is encoded.
    public enum Payload: String, Sendable {
        /// A versioned JSON control message (`MessageCodec`).
        case json
        /// A binary frame (`ChunkFrame`, `FLUpdateFrame`).
        case binary
        /// The package's signed manifest, in the package format's own encoding (Artifact).
        case manifest
    }

    /// Which way messages of this kind travel.
    public var direction: Topic.Direction {
        switch self {
        case .status, .telemetry, .events, .feedback, .drift, .flUpdate, .fetch: .deviceToHub
        case .assignment, .chunks, .flTask, .groupBroadcast, .groupFLTask, .modelManifest: .hubToDevice
        }
    }

    /// The QoS messages of this kind are published with. Every kind is QoS 1: handlers are
    /// idempotent (messages carry ids), so redelivery is harmless and nothing is lost.
    public var qos: QoS { .atLeastOnce }

    /// Whether messages of this kind are retained, so a subscriber gets the latest one at once.
    public var retained: Bool {
        switch self {
        case .status, .assignment, .groupFLTask, .modelManifest: true
        case .telemetry, .events, .feedback, .drift, .flUpdate, .fetch, .chunks, .flTask, .groupBroadcast: false
        }
    }

    /// How the payload is encoded.
    public var payload: Payload {
        switch self {
        case .flUpdate, .flTask, .groupFLTask, .chunks: .binary
        case .modelManifest: .manifest
        default: .json
        }
    }
}

extension Topic {
    /// A message on this topic with the topic kind's QoS and retain flag.
    public func message(_ payload: [UInt8]) -> Message {
        Message(topic: name, payload: payload, qos: kind.qos, retain: kind.retained)
    }

    /// A message on this topic carrying `value`, JSON-encoded with `MessageCodec`.
    public func message<M: ControlMessage>(_ value: M) throws(ProtocolError) -> Message {
        message(try MessageCodec.encode(value))
    }

    /// The message that clears this topic's retained message (an empty retained payload).
    public var clearingMessage: Message {
        Message(topic: name, payload: [], qos: kind.qos, retain: true)
    }
}

/// A topic filter and the QoS to subscribe with.
public struct Subscription: Hashable, Sendable {
    /// The topic filter (may start with `$share/{group}/`).
    public var filter: String
    /// The maximum QoS requested.
    public var qos: QoS

    /// A subscription to `filter` at `qos`.
    public init(_ filter: String, qos: QoS = .atLeastOnce) {
        self.filter = filter
        self.qos = qos
    }
}

extension Subscription {
    /// The share group hub replicas use by default (`$share/hub/...`).
    public static let hubShareGroup = "hub"

    /// What a hub replica subscribes to.
    ///
    /// Device → hub traffic goes through the shared subscription `$share/{shareGroup}/...`, so
    /// each message reaches one replica. Status is subscribed without sharing: MQTT 5 does not
    /// send retained messages to shared subscriptions, and every replica wants the fleet's
    /// retained status at start-up. Pass `shareGroup: nil` for a single hub without sharing.
    public static func hub(shareGroup: String? = hubShareGroup) throws(ProtocolError) -> [Subscription] {
        if let shareGroup { try IdentifierRules.check(shareGroup, kind: "share group") }
        let shared: [Topic.Kind] = [.telemetry, .events, .feedback, .drift, .flUpdate, .fetch]
        var out = [Subscription(filter(forEvery: .status))]
        for kind in shared {
            let plain = filter(forEvery: kind)
            out.append(Subscription(shareGroup.map { "$share/\($0)/\(plain)" } ?? plain))
        }
        return out
    }

    /// What a device subscribes to: its assignment, chunks (with reply sub-topics), FL tasks, and
    /// its groups' broadcasts and FL tasks. Model manifests are subscribed on demand
    /// (`Topic.modelManifest(name).name`).
    public static func device(_ device: DeviceID, groups: [GroupID] = []) -> [Subscription] {
        var out = [
            Subscription(Topic.assignment(device).name),
            Subscription(Topic.chunks(device).name + "/#"),
            Subscription(Topic.flTask(device).name),
        ]
        for group in groups {
            out.append(Subscription(Topic.groupBroadcast(group).name))
            out.append(Subscription(Topic.groupFLTask(group).name))
        }
        return out
    }

    /// The filter matching every topic of `kind` (e.g. `starling/v1/devices/+/telemetry`).
    public static func filter(forEvery kind: Topic.Kind) -> String {
        let suffix: String
        switch kind {
        case .status: suffix = "status"
        case .telemetry: suffix = "telemetry"
        case .events: suffix = "events"
        case .feedback: suffix = "feedback"
        case .drift: suffix = "drift"
        case .flUpdate: suffix = "fl/update"
        case .fetch: suffix = "fetch"
        case .assignment: suffix = "assignment"
        case .chunks: suffix = "chunks/#"
        case .flTask: suffix = "fl/task"
        case .groupBroadcast: return "\(Topic.root)/groups/+/broadcast"
        case .groupFLTask: return "\(Topic.root)/groups/+/fl/task"
        case .modelManifest: return "\(Topic.root)/models/+/manifest"
        }
        return "\(Topic.root)/devices/+/\(suffix)"
    }
}
