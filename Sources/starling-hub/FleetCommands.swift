import ArgumentParser
import Foundation
import Hub

struct FleetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "Enrol, list and decommission devices (run on the hub's machine, with access to its data directory).",
        subcommands: [FleetEnroll.self, FleetDecommission.self, FleetList.self])
}

/// Where the broker's files are and how it is reloaded.
struct BrokerOptions: ParsableArguments {
    @Option(help: "The broker's password file (default: <data>/broker/passwords).")
    var passwordFile: String?
    @Option(help: "The broker's ACL file (default: <data>/broker/acl).")
    var aclFile: String?
    @Option(help: "The hub's own MQTT password file, created when missing (default: <data>/broker/hub-password).")
    var hubPasswordFile: String?
    @Option(help: "Send SIGHUP to the broker whose pid this file holds (default: no reload).")
    var brokerPidFile: String?
    @Option(help: "Send SIGHUP to this broker pid (default: no reload).")
    var brokerPid: Int32?

    /// The fleet service on an opened hub.
    func fleet(_ hub: HubServices, bundle: BundleSettings) throws -> FleetService {
        var files = BrokerFiles(dataDirectory: hub.configuration.dataDirectory)
        if let passwordFile { files.passwordFile = passwordFile }
        if let aclFile { files.aclFile = aclFile }
        if let hubPasswordFile { files.hubPasswordFile = hubPasswordFile }
        let reload: BrokerReload = brokerPid.map { .signal(pid: $0) } ?? brokerPidFile.map { .pidFile($0) } ?? .none
        return try FleetService.open(hub: hub, files: files, reload: reload, bundleSettings: bundle)
    }
}

struct FleetEnroll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enroll",
        abstract:
            "Enrol a device: create its broker account, reload the broker, write its bundle (the password is in no other place).")

    @OptionGroup var options: DataOptions
    @OptionGroup var broker: BrokerOptions
    @Argument(help: "The device id (A-Z a-z 0-9 . _ - :).")
    var deviceID: String
    @Option(help: "Labels: k=v,k2=v2.")
    var labels: String = ""
    @Option(help: "The device's firmware profile (e.g. raspberry-pi-4).")
    var profile: String
    @Option(help: "The directory to write agent.json, mqtt-password and trust.json into (created, mode 0700).")
    var out: String
    @Option(help: "The broker host devices connect to.")
    var brokerHost: String
    @Option(help: "The broker port devices connect to.")
    var brokerPort: Int = 8883
    @Option(help: "The CA file path on the device (TLS); 'none' for a plain connection.")
    var caFile: String = "/etc/starling/ca.pem"
    @Option(help: "The directory on the device that will hold the bundle's files.")
    var deviceConfigDirectory: String = "/etc/starling"
    @Option(help: "The agent's data directory on the device.")
    var deviceDataDirectory: String = "/var/lib/starling"

    func run() async throws {
        let parsedLabels = try Labels.parse(labels)
        let hub = try await HubServices.open(options.configuration)
        defer { hub.close() }
        let settings = BundleSettings(
            brokerHost: brokerHost, brokerPort: brokerPort, caFile: caFile == "none" ? nil : caFile,
            configDirectory: deviceConfigDirectory, dataDirectory: deviceDataDirectory)
        let fleet = try broker.fleet(hub, bundle: settings)
        let bundle = try await fleet.enroll(device: deviceID, labels: parsedLabels, profile: profile, by: .localCommandLine)
        try bundle.write(to: out)
        print(
            "Enrolled \(deviceID). Its bundle is in \(out): copy it to \(deviceConfigDirectory) on the device; the password is in no other place."
        )
    }
}

struct FleetDecommission: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decommission", abstract: "Revoke a device's broker account and reload the broker.")

    @OptionGroup var options: DataOptions
    @OptionGroup var broker: BrokerOptions
    @Argument(help: "The device id.")
    var deviceID: String

    func run() async throws {
        let hub = try await HubServices.open(options.configuration)
        defer { hub.close() }
        let fleet = try broker.fleet(hub, bundle: BundleSettings(brokerHost: "unused"))
        try await fleet.decommission(device: deviceID, by: .localCommandLine)
        print("Decommissioned \(deviceID): its next connection is refused (restart the broker to cut an open one).")
    }
}

struct FleetList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List devices, with their labels and state.")

    @OptionGroup var options: DataOptions
    @Option(help: "Only enrolled devices matching this label selector (k=v,k2!=v2,k3 in (a,b)).")
    var selector: String?

    func run() async throws {
        let hub = try await HubServices.open(options.configuration)
        defer { hub.close() }
        let store = SQLiteHubStore(hub.database)
        var devices: [Device] = []
        var page = PageRequest(limit: PageRequest.maxLimit)
        while true {
            let result = try await store.devices(page: page)
            devices += result.items
            guard let next = result.next else { break }
            page.cursor = next
        }
        if let selector {
            let parsed = try LabelSelector(parsing: selector)
            devices = devices.filter { $0.state == .enrolled && parsed.matches($0.labels) }
        }
        let statuses = Dictionary(
            uniqueKeysWithValues: try await store.liveStatuses().map { ($0.device, $0) })
        let rows = devices.map { device in
            [
                device.id, device.state.rawValue, device.profile, Labels.render(device.labels),
                TokenList.date(device.enrolledAt), statuses[device.id]?.presence.rawValue ?? "unknown",
            ]
        }
        print(TokenList.table(["id", "state", "profile", "labels", "enrolled", "presence"], rows))
    }
}
