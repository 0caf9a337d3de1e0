import ArgumentParser
import Core
import Foundation

struct FleetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "The hub's devices: enrol, list, show, label and decommission them.",
        subcommands: [FleetEnroll.self, FleetList.self, FleetShow.self, FleetLabel.self, FleetDecommission.self])
}

struct FleetEnroll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enroll",
        abstract: "Enrol a device and write its bundle (agent.json, mqtt-password, trust.json, device.key) into a directory.",
        discussion: "The device's MQTT password is in the bundle and in no other place: the hub keeps only its hash.")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The device id (A-Z a-z 0-9 . _ - :).")
    var deviceID: String
    @Option(help: "Labels: k=v,k2=v2.")
    var labels = ""
    @Option(help: "The device's firmware profile (e.g. raspberry-pi-4).")
    var profile: String
    @Option(help: "The directory to write the bundle into (created with mode 0700).")
    var out: String
    @Option(help: "The broker host the device connects to (default: the hub's setting).")
    var brokerHost: String?
    @Option(help: "The broker port the device connects to (default: the hub's setting).")
    var brokerPort: Int?
    @Option(help: "The CA file path on the device, or 'none' for a plain connection (default: the hub's setting).")
    var caFile: String?
    @Flag(help: "Replace bundle files already in the directory.")
    var force = false

    /// The files a bundle has; checked before enrolling so a password is never generated for nothing.
    static let bundleFiles = ["agent.json", "mqtt-password", "trust.json", "device.key"]

    func validate() throws {
        _ = try HubArguments.labels(labels)
        if let brokerPort, !(1...65535).contains(brokerPort) { throw ValidationError("--broker-port must be within 1...65535") }
    }

    func run() async throws {
        var body: [String: JSONValue] = [
            "id": .string(deviceID), "profile": .string(profile),
            "labels": .object(try HubArguments.labels(labels).mapValues(JSONValue.string)),
        ]
        if let brokerHost { body["brokerHost"] = .string(brokerHost) }
        if let brokerPort { body["brokerPort"] = .integer(Int64(brokerPort)) }
        if let caFile { body["caFile"] = .string(caFile) }
        try await hub.run { client in
            try prepareDirectory()
            let answer = try await client.json(HubRequest("POST", ["devices"], body: .json(.object(body))))
            let enrolment = try answer.decode(EnrolmentRecord.self)
            let written: [String: String]
            do throws(ModelError) {
                written = try Self.write(enrolment.files, to: out)
            } catch {
                throw HubError(
                    .local,
                    "\(deviceID) is enrolled but its bundle was not written (\(error.message)); the password is lost: "
                        + "decommission the device and enrol it again")
            }
            let summary: JSONValue = .object([
                "device": answer["device"] ?? .null, "files": .object(written.mapValues(JSONValue.string)),
            ])
            try hub.show(summary) {
                "Enrolled \(enrolment.device.id). Its bundle is in \(out): copy it to the device's configuration directory "
                    + "(/etc/starling); the password in mqtt-password is in no other place."
            }
        }
    }

    /// Creates the directory (0700) and refuses to overwrite a bundle unless `--force`.
    private func prepareDirectory() throws(HubError) {
        do throws(ModelError) {
            try FileIO.createDirectory(out, mode: 0o700)
        } catch {
            throw HubError(.local, error.message)
        }
        if !force, let existing = Self.bundleFiles.first(where: { FileIO.exists(out + "/" + $0) }) {
            throw HubError(.local, "'\(out)/\(existing)' exists; pick another --out or pass --force")
        }
    }

    /// Writes each bundle file (text as it is, a JSON document pretty-printed) and answers their paths.
    /// File names come from the hub, so only plain names are accepted.
    static func write(_ files: [String: JSONValue], to directory: String) throws(ModelError) -> [String: String] {
        var paths: [String: String] = [:]
        for name in files.keys.sorted() {
            guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }), !name.hasPrefix(".")
            else {
                throw ModelError(.io, "the hub sent a bundle file named '\(name.prefix(40))', which is not a plain file name")
            }
            let text = files[name]!.string ?? HubOutput.json(files[name]!) + "\n"
            let path = directory + "/" + name
            try FileIO.writeAtomically(Array(text.utf8), to: path, mode: ["mqtt-password", "device.key"].contains(name) ? 0o600 : 0o644)
            paths[name] = path
        }
        return paths
    }
}

struct FleetList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List devices with their live status.")

    @OptionGroup var hub: HubOptions
    @OptionGroup var list: ListOptions
    @Option(help: "Only devices whose labels match this selector (k=v,k2!=v2,k3 in (a,b)).")
    var selector: String?

    func run() async throws {
        try await hub.run { client in
            let listing = try await client.list(["devices"], query: selector.map { [("selector", $0)] } ?? [], paging: list)
            try hub.show(listing.json) { FleetRender.table(try listing.decode(DeviceRecord.self)) }
        }
    }
}

struct FleetShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one device: labels, status, telemetry.")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The device id.")
    var deviceID: String

    func run() async throws {
        try await hub.run { client in
            let answer = try await client.json(HubRequest("GET", ["devices", deviceID]))
            try hub.show(answer) { FleetRender.device(try answer.decode(DeviceRecord.self)) }
        }
    }
}

struct FleetLabel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "label", abstract: "Set a device's labels (they replace its labels; groups follow).")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The device id.")
    var deviceID: String
    @Argument(help: "The labels: k=v,k2=v2 (empty: none).")
    var labels: String

    func validate() throws { _ = try HubArguments.labels(labels, flag: "LABELS") }

    func run() async throws {
        let parsed = try HubArguments.labels(labels, flag: "LABELS")
        try await hub.run { client in
            let answer = try await client.json(
                HubRequest(
                    "PATCH", ["devices", deviceID], body: .json(.object(["labels": .object(parsed.mapValues(JSONValue.string))])))
            )
            try hub.show(answer) {
                let device = try answer.decode(DeviceRecord.self)
                return "Labelled \(device.id): \(HubOutput.labels(device.labels))."
            }
        }
    }
}

struct FleetDecommission: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decommission", abstract: "Revoke a device's broker account; its next connection is refused.")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The device id.")
    var deviceID: String

    func run() async throws {
        try await hub.run { client in
            let answer = try await client.json(HubRequest("DELETE", ["devices", deviceID]))
            try hub.show(answer) {
                "Decommissioned \(deviceID): its next connection is refused (restart the broker to cut an open one)."
            }
        }
    }
}

/// Device tables and records as text.
enum FleetRender {
    /// `ID  LABELS  ONLINE  MODEL@VERSION  LAST SEEN  HEALTH`.
    static func table(_ devices: [DeviceRecord], now: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) -> String {
        HubOutput.table(
            ["id", "labels", "online", "model@version", "last seen", "health"],
            devices.map {
                [
                    $0.id, HubOutput.labels($0.labels), $0.state == "decommissioned" ? "decommissioned" : $0.online, $0.model,
                    HubOutput.ago($0.status?.lastSeen, now: now), $0.health ?? "unknown",
                ]
            })
    }

    static func device(_ d: DeviceRecord, now: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) -> String {
        var pairs: [(String, String)] = [
            ("id", d.id), ("state", d.state ?? "-"), ("profile", d.profile ?? "-"), ("labels", HubOutput.labels(d.labels)),
            ("enrolled", HubOutput.time(d.enrolledAt) + (d.enrolledBy.map { " by " + $0 } ?? "")),
        ]
        if let at = d.decommissionedAt {
            pairs.append(("decommissioned", HubOutput.time(at) + (d.decommissionedBy.map { " by " + $0 } ?? "")))
        }
        pairs.append(("online", d.online))
        pairs.append(("health", d.health ?? "unknown"))
        if let status = d.status {
            if let seen = status.lastSeen {
                pairs.append(("last seen", HubOutput.time(seen) + " (" + HubOutput.ago(seen, now: now) + ")"))
            }
            pairs.append(("model", d.model))
            if let agent = status.agentVersion { pairs.append(("agent", agent)) }
            if let firmware = status.firmwareProfile { pairs.append(("firmware", firmware)) }
            if let reason = status.offlineReason { pairs.append(("offline reason", reason)) }
            if let t = status.telemetry {
                let window = t.windowMs.map { " in " + HubOutput.duration($0) } ?? ""
                pairs.append(("predictions", (t.predictions.map(String.init) ?? "-") + window))
                pairs.append(("error rate", HubOutput.percent(t.errorRate)))
                pairs.append(("p95 latency", HubOutput.number(t.latencyP95Ms) + " ms"))
                pairs.append(
                    (
                        "feedback",
                        (t.feedbackCount.map(String.init) ?? "-") + " labels, accuracy " + HubOutput.percent(t.feedbackAccuracy)
                    ))
            }
        }
        return HubOutput.fields(pairs)
    }
}
