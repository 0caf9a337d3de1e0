// Devices, groups and rollouts as the CLI reads them. Fields the tables can do without are
// optional, so a hub that adds or omits one still lists.

/// A device with the hub's live view of it (`DeviceView`).
struct DeviceRecord: Decodable {
    /// What the hub last heard from the device.
    struct Status: Decodable {
        var presence: String?
        var lastSeen: Int64?
        var agentVersion: String?
        var firmwareProfile: String?
        var modelName: String?
        var modelVersion: String?
        var offlineReason: String?
        var telemetry: Telemetry?
    }

    /// The latest telemetry window.
    struct Telemetry: Decodable {
        var time: Int64?
        var windowMs: Int64?
        var predictions: Int?
        var errorRate: Double?
        var latencyP95Ms: Double?
        var feedbackCount: Int?
        var feedbackAccuracy: Double?
    }

    var id: String
    var labels: [String: String]?
    var profile: String?
    var state: String?
    var enrolledAt: Int64?
    var enrolledBy: String?
    var decommissionedAt: Int64?
    var decommissionedBy: String?
    var status: Status?
    var health: String?

    /// `yes`, `no` or `unknown`.
    var online: String {
        switch status?.presence {
        case "online": "yes"
        case "offline": "no"
        default: "unknown"
        }
    }

    /// `model@version`, or `-` when the device has not said.
    var model: String {
        guard let name = status?.modelName else { return "-" }
        return name + "@" + (status?.modelVersion ?? "?")
    }
}

/// `DeviceGroup`, with `members` in lists and `devices` when shown.
struct GroupRecord: Decodable {
    var name: String
    var selector: String
    var updatedAt: Int64?
    var updatedBy: String?
    var members: Int?
    var devices: [DeviceRecord]?
}

/// What `POST /devices` answers: the device and its bundle's files.
struct EnrolmentRecord: Decodable {
    var device: DeviceRecord
    var files: [String: JSONValue]
}

/// A rollout with its progress and health (`RolloutView`).
struct RolloutRecord: Decodable {
    struct Plan: Decodable {
        var phases: [Double]?
        var gates: [String]?
        var minDevices: Int?
        var observeMilliseconds: Int64?
        var onFail: String?
        var split: Double?
    }

    struct State: Decodable, Equatable {
        var state: String
        var phase: Int?
        var since: Int64?
        var reason: String?
    }

    struct Progress: Decodable, Equatable {
        var target: Int?
        var assigned: Int?
        var onCandidate: Int?
        var onBaseline: Int?
    }

    struct Health: Decodable {
        var reportingDevices: Int?
        var candidate: [String: Double?]?
        var baseline: [String: Double?]?
    }

    struct Event: Decodable, Equatable {
        var time: Int64
        var text: String
    }

    var id: String
    var model: String
    var candidate: String
    var baseline: String?
    var selector: String?
    var plan: Plan?
    var state: State
    var createdAt: Int64?
    var createdBy: String?
    var updatedAt: Int64?
    var progress: Progress?
    var health: Health?
    var events: [Event]?

    /// Finished: nothing more will happen to it.
    var isFinished: Bool { ["completed", "rolledBack"].contains(state.state) }

    /// `observing phase 2/3`, `paused in phase 1/3: reason`, `completed`, ...
    var stateText: String {
        let count = plan?.phases?.count
        let phase = state.phase.map { " phase \($0 + 1)" + (count.map { "/\($0)" } ?? "") } ?? ""
        let reason = state.reason.map { ": " + $0 } ?? ""
        return state.state + phase + reason
    }

    /// `3/10 on candidate`.
    var progressText: String {
        guard let progress else { return "-" }
        let on = progress.onCandidate.map(String.init) ?? "?"
        let target = progress.target.map(String.init) ?? "?"
        return "\(on)/\(target) on \(candidate)"
    }
}
