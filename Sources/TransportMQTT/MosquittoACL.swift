/// Mosquitto's ACL file (`acl_file`) for a Starling fleet.
///
/// - A device's MQTT user name is its device id. `pattern` rules with `%u` let every device
///   write only its device→hub topics (`starling/v1/devices/<id>/status`, `telemetry`, ...) and
///   read only its hub→device topics (`assignment`, `chunks/#`, `fl/task`), so no device can
///   write another's topics, read them, or overwrite its own retained assignment.
/// - Group membership lives in the hub's fleet registry, so it is written out as one `user`
///   section per device that belongs to groups, granting `read starling/v1/groups/<g>/#`. The hub
///   rewrites the file when membership changes and sends the broker SIGHUP.
/// - Every device reads the fleet-wide topics (`models/+/manifest`; manifests are signed).
/// - Hub accounts read and write all of `starling/v1/#`. Mosquitto checks what a shared
///   subscription (`$share/hub/starling/v1/...`) delivers against each message's topic, so it
///   needs no rule of its own.
/// - Nobody else gets anything (no anonymous section, no `$SYS`).
///
/// Mosquitto 2.0.11 accepts every SUBSCRIBE and applies `read` rules to each delivery: a device
/// subscribing to another's topic gets a successful SUBACK and no messages.
public struct MosquittoACL: Sendable, Equatable {
    /// The topic prefix of the protocol version.
    public var root: String
    /// User names with full access to `root`.
    public var hubUsers: [String]
    /// Topics under `devices/<id>/` a device may publish to.
    public var deviceWrites: [String]
    /// Topics under `devices/<id>/` a device may subscribe to.
    public var deviceReads: [String]
    /// Topics under `root` every device may subscribe to.
    public var fleetReads: [String]
    /// Group ids each device belongs to, by device id.
    public var groups: [String: [String]]

    /// The fleet's ACL with the protocol's topic directions.
    public init(
        root: String = "starling/v1", hubUsers: [String] = ["hub"],
        deviceWrites: [String] = ["status", "telemetry", "events", "feedback", "drift", "fl/update", "fetch"],
        deviceReads: [String] = ["assignment", "chunks/#", "fl/task"],
        fleetReads: [String] = ["models/+/manifest"], groups: [String: [String]] = [:]
    ) {
        self.root = root
        self.hubUsers = hubUsers
        self.deviceWrites = deviceWrites
        self.deviceReads = deviceReads
        self.fleetReads = fleetReads
        self.groups = groups
    }

    /// The file's text; throws for names that would break its line format.
    public func render() throws(MosquittoError) -> String {
        var lines = ["# Starling broker ACL, generated: change the fleet registry, not this file.", ""]
        lines.append("# Hub accounts: all of \(root) (shared subscriptions are checked against the topic).")
        for user in hubUsers.sorted() {
            try Self.check(user, "hub user")
            lines.append("user \(user)")
            lines.append("topic readwrite \(root)/#")
        }
        lines.append("")
        let members = groups.filter { !$0.value.isEmpty }
        if !members.isEmpty {
            lines.append("# Group memberships: a device reads its groups' topics.")
            for device in members.keys.sorted() {
                try Self.check(device, "device id")
                lines.append("user \(device)")
                for group in Set(members[device]!).sorted() {
                    try Self.check(group, "group id")
                    lines.append("topic read \(root)/groups/\(group)/#")
                }
            }
            lines.append("")
        }
        lines.append("# Every device (user name = device id) on its own topics.")
        for topic in deviceWrites { lines.append("pattern write \(root)/devices/%u/\(topic)") }
        for topic in deviceReads { lines.append("pattern read \(root)/devices/%u/\(topic)") }
        for topic in fleetReads { lines.append("pattern read \(root)/\(topic)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Refuses names that are empty, contain MQTT wildcards or separators, or would break a line.
    static func check(_ name: String, _ what: String) throws(MosquittoError) {
        let bad = name.isEmpty || name.contains { "/+#:\0\n\r \t".contains($0) } || name.hasPrefix("$")
        if bad {
            throw MosquittoError(.invalidInput, "the \(what) '\(name)' cannot go into the ACL (empty, or contains / + # : $ or blanks)")
        }
    }
}
