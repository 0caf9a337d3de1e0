/// A Starling MQTT topic, parsed: which kind of message, and which device, group or model.
///
/// Every topic lives under `starling/v1/`; the version changes only when the topic layout
/// changes incompatibly. The sender of a device topic is the device in the topic (the broker ACL
/// lets a device write only its own topics), never a field of the payload.
public enum Topic: Hashable, Sendable, CustomStringConvertible {
    /// `devices/{id}/status`: online or offline, retained; the last will says offline.
    case status(DeviceID)
    /// `devices/{id}/telemetry`: periodic health and model metrics.
    case telemetry(DeviceID)
    /// `devices/{id}/events`: update phases and errors.
    case events(DeviceID)
    /// `devices/{id}/feedback`: batches of labels for logged predictions.
    case feedback(DeviceID)
    /// `devices/{id}/drift`: per-feature histogram sketches.
    case drift(DeviceID)
    /// `devices/{id}/fl/update`: a federated-learning update (binary frame).
    case flUpdate(DeviceID)
    /// `devices/{id}/fetch`: a request for package chunks.
    case fetch(DeviceID)
    /// `devices/{id}/assignment`: the signed model assignment, retained.
    case assignment(DeviceID)
    /// `devices/{id}/chunks`: package chunks (binary frames) for the device. Parsing also accepts
    /// sub-topics `devices/{id}/chunks/{stream}` (a reply topic a fetch request may name).
    case chunks(DeviceID)
    /// `devices/{id}/fl/task`: a federated-learning task for one device.
    case flTask(DeviceID)
    /// `groups/{g}/broadcast`: an announcement to every device of a group.
    case groupBroadcast(GroupID)
    /// `groups/{g}/fl/task`: a federated-learning task offered to a whole group.
    case groupFLTask(GroupID)
    /// `models/{name}/manifest`: the signed package manifest of a model's current release, retained.
    case modelManifest(ModelName)

    /// The prefix of every Starling topic.
    public static let root = "starling/v1"

    /// The kinds of topic, without their ids.
    public enum Kind: String, Sendable, CaseIterable {
        /// Device → hub kinds, named like the `Topic` cases.
        case status, telemetry, events, feedback, drift, flUpdate, fetch
        /// Hub → device kinds, named like the `Topic` cases.
        case assignment, chunks, flTask, groupBroadcast, groupFLTask, modelManifest
    }

    /// Which way a topic's messages travel.
    public enum Direction: String, Sendable {
        /// Published by a device, consumed by the hub.
        case deviceToHub
        /// Published by the hub, consumed by devices.
        case hubToDevice
    }

    /// The kind of this topic.
    public var kind: Kind {
        switch self {
        case .status: .status
        case .telemetry: .telemetry
        case .events: .events
        case .feedback: .feedback
        case .drift: .drift
        case .flUpdate: .flUpdate
        case .fetch: .fetch
        case .assignment: .assignment
        case .chunks: .chunks
        case .flTask: .flTask
        case .groupBroadcast: .groupBroadcast
        case .groupFLTask: .groupFLTask
        case .modelManifest: .modelManifest
        }
    }

    /// The device this topic belongs to, for device topics.
    public var device: DeviceID? {
        switch self {
        case .status(let d), .telemetry(let d), .events(let d), .feedback(let d), .drift(let d), .flUpdate(let d),
            .fetch(let d), .assignment(let d), .chunks(let d), .flTask(let d):
            d
        case .groupBroadcast, .groupFLTask, .modelManifest:
            nil
        }
    }

    /// The full topic name, e.g. `starling/v1/devices/pi-7/status`.
    public var name: String {
        switch self {
        case .status(let d): "\(Self.root)/devices/\(d)/status"
        case .telemetry(let d): "\(Self.root)/devices/\(d)/telemetry"
        case .events(let d): "\(Self.root)/devices/\(d)/events"
        case .feedback(let d): "\(Self.root)/devices/\(d)/feedback"
        case .drift(let d): "\(Self.root)/devices/\(d)/drift"
        case .flUpdate(let d): "\(Self.root)/devices/\(d)/fl/update"
        case .fetch(let d): "\(Self.root)/devices/\(d)/fetch"
        case .assignment(let d): "\(Self.root)/devices/\(d)/assignment"
        case .chunks(let d): "\(Self.root)/devices/\(d)/chunks"
        case .flTask(let d): "\(Self.root)/devices/\(d)/fl/task"
        case .groupBroadcast(let g): "\(Self.root)/groups/\(g)/broadcast"
        case .groupFLTask(let g): "\(Self.root)/groups/\(g)/fl/task"
        case .modelManifest(let m): "\(Self.root)/models/\(m)/manifest"
        }
    }

    /// The full topic name.
    public var description: String { name }

    // MARK: - Parsing

    /// Parses a topic name; throws `invalidTopic` for anything that is not a Starling v1 topic
    /// (and `invalidIdentifier` for a bad id in an otherwise well-formed topic).
    public init(parsing topic: String) throws(ProtocolError) {
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard levels.count >= 5, levels[0] == "starling" else {
            throw ProtocolError(.invalidTopic, "'\(IdentifierRules.printable(topic))' is not a Starling topic (starling/v1/...)")
        }
        guard levels[1] == "v1" else {
            throw ProtocolError(
                .invalidTopic, "topic version '\(IdentifierRules.printable(levels[1]))' is not one this build speaks (v1)")
        }
        let rest = Array(levels[4...])
        func unknown() -> ProtocolError {
            ProtocolError(.invalidTopic, "'\(IdentifierRules.printable(topic))' is not a known Starling v1 topic")
        }
        switch levels[2] {
        case "devices":
            let device = try DeviceID(levels[3])
            switch rest {
            case ["status"]: self = .status(device)
            case ["telemetry"]: self = .telemetry(device)
            case ["events"]: self = .events(device)
            case ["feedback"]: self = .feedback(device)
            case ["drift"]: self = .drift(device)
            case ["fl", "update"]: self = .flUpdate(device)
            case ["fetch"]: self = .fetch(device)
            case ["assignment"]: self = .assignment(device)
            case ["chunks"]: self = .chunks(device)
            case ["fl", "task"]: self = .flTask(device)
            default:
                guard rest.count == 2, rest[0] == "chunks" else { throw unknown() }
                try IdentifierRules.check(rest[1], kind: "chunk stream")
                self = .chunks(device)
            }
        case "groups":
            let group = try GroupID(levels[3])
            switch rest {
            case ["broadcast"]: self = .groupBroadcast(group)
            case ["fl", "task"]: self = .groupFLTask(group)
            default: throw unknown()
            }
        case "models":
            let model = try ModelName(levels[3])
            guard rest == ["manifest"] else { throw unknown() }
            self = .modelManifest(model)
        default:
            throw unknown()
        }
    }
}
