import ArgumentParser
import Core
import Foundation
import Hub

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract:
            "Serve the REST API (/api/v1), /health and /metrics, and with mqtt.host set, the fleet: live status, package chunks and rollouts, until SIGINT or SIGTERM.")

    @Option(help: "A JSON configuration file (keys: `starling-hub config-keys`).")
    var config: String?
    @Option(name: .customLong("set"), help: "KEY=VALUE, overriding the file and STARLING_HUB_* variables (repeatable).")
    var settings: [String] = []
    @Option(name: .customLong("data"), help: "The data directory (the same as --set dataDirectory=DIR).")
    var data: String?
    @Option(help: "The address to bind (the same as --set http.host=HOST).")
    var host: String?
    @Option(help: "The TCP port; 0 picks a free one (the same as --set http.port=PORT).")
    var port: Int?

    func run() async throws {
        var overrides = settings
        if let data { overrides.append("dataDirectory=\(data)") }
        if let host { overrides.append("http.host=\(host)") }
        if let port { overrides.append("http.port=\(port)") }
        let configuration: HubConfiguration
        do {
            configuration = try HubConfiguration.load(
                file: config, environment: ProcessInfo.processInfo.environment, settings: overrides)
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
            throw ExitCode(64)
        }
        let host = configuration.http.host
        try await HubRuntime.serve(
            configuration,
            onListening: { port in Self.say("listening on \(host):\(port)") },
            onNote: { Self.say($0) })
    }

    static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}

struct ConfigKeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config-keys", abstract: "Every configuration key: its environment variable, default and meaning.")

    func run() {
        let schema = ConfigSchema.hub
        for entry in schema.entries {
            let value = entry.defaultValue.map { "default \($0)" } ?? (entry.required ? "required" : "optional")
            print("\(entry.key)  \(schema.environmentName(of: entry.key))  \(value)\n    \(entry.help)")
        }
    }
}

struct BrokerConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker-config",
        abstract:
            "Write a mosquitto.conf for a broker on this machine that enforces the hub's password and ACL files (rendered now from the hub's devices).")

    @Option(help: "The hub's JSON configuration file.")
    var config: String?
    @Option(name: .customLong("set"), help: "KEY=VALUE overrides, as for serve (repeatable).")
    var settings: [String] = []
    @Option(help: "The loopback port the broker listens on.")
    var port: Int = 1883
    @Option(help: "The broker's pid file (set broker.pidFile to the same path so the hub can reload it).")
    var pidFile: String?
    @Option(help: "The broker's persistence directory (default: no persistence).")
    var persistence: String?
    @Option(help: "The account the broker runs as (default: the user running this command, who can read the hub's files).")
    var user: String?
    @Option(help: "Where to write mosquitto.conf.")
    var out: String

    func run() async throws {
        var configuration = try HubConfiguration.load(
            file: config, environment: ProcessInfo.processInfo.environment, settings: settings)
        // The broker is usually not running yet: write the files, reload nothing.
        configuration.fleet.reload = .none
        let services = try await HubServices.open(configuration)
        defer { services.close() }
        try await services.fleet.syncBroker(by: .localCommandLine)
        let text = try configuration.fleet.mosquittoConfiguration(
            port: port, pidFile: pidFile, persistenceLocation: persistence,
            user: user ?? String(cString: getpwuid(geteuid()).pointee.pw_name)
        ).render()
        try FileIO.writeAtomically(Array(text.utf8), to: out, mode: 0o644)
        print("wrote \(out): listener 127.0.0.1:\(port), passwords \(configuration.fleet.files.passwordFile), acl \(configuration.fleet.files.aclFile)")
    }
}
