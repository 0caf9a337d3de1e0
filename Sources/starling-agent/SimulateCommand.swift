import Agent
import ArgumentParser
import Core
import TransportMQTT

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// `starling-agent simulate`: many lightweight agents in one process, each a real protocol peer
/// with its own MQTT session and store (docs/simulate.md).
struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run many simulated agents in one process, each with its own MQTT session and store.",
        discussion: """
            Prints one progress line per second and, with --json, a JSON summary line at the end. Runs for \
            --duration seconds, or until SIGINT or SIGTERM. See docs/simulate.md.
            """)

    @Option(help: "Broker address HOST:PORT (default: the bundles' broker, else 127.0.0.1:1883).")
    var broker: String?
    @Option(help: "Number of simulated devices.")
    var count = 10
    @Option(help: "Device ids are this prefix and a number from 1, zero-padded to 4 digits.")
    var idPrefix = "sim-"
    @Option(help: "Data directory: one store per device in DIR/<device id>/.")
    var data: String
    @Option(help: "Trust ring file (keys that sign assignments and packages); default: each bundle's trust.json.")
    var trust: String?
    @Option(help: "Firmware profile the devices claim (default: the first bundle's, else x86-64-gateway).")
    var profile: String?
    @Option(help: "Directory of firmware profile files.")
    var profileDirectory = "/usr/share/starling/firmware-profiles"
    @Option(help: "Broker user name for every device (default: each device's id when a password is given).")
    var username: String?
    @Option(help: "File holding the broker password for every device.")
    var passwordFile: String?
    @Option(help: "Enrolment bundles: DIR/<id>/agent.json and mqtt-password; the devices are the bundles' (at most --count).")
    var bundles: String?
    @Option(help: "CA file for a TLS broker (default: the bundles' caFile, if any).")
    var caFile: String?
    @Option(help: "Name of the model the devices serve at first.")
    var model: String
    @Option(help: "Version of that model the devices serve at first (no model bytes are needed).")
    var version = "1.0.0"
    @Option(help: "Agent version the devices announce.")
    var agentVersion = AgentVersion.current
    @Option(help: "Seconds between telemetry messages.")
    var telemetryInterval = 60.0
    @Option(help: "Seconds of traffic generated at once per device.")
    var trafficInterval = 10.0
    @Option(help: "Seconds a new version is on probation before it is committed.")
    var probation = 0.0
    @Option(
        help: ArgumentHelp(
            "Traffic of a version: VERSION=KEY:VALUE,... with keys accuracy, error, p50, p95, rate, feedback; * is every other version (repeatable).",
            valueName: "spec"))
    var behaviour: [String] = []
    @Option(help: "Spread of each device's fixed offsets from the behaviour (0 to 0.5).")
    var noise = 0.02
    @Option(help: "Seed of the devices' traffic.")
    var seed: UInt64 = 1
    @Option(help: "Devices started (and connected) per second, at most.")
    var connectRate = 100.0
    @Option(help: "MQTT keep-alive in seconds.")
    var keepalive = 30
    @Option(help: "Seconds to run (0: until SIGINT or SIGTERM).")
    var duration = 0.0
    @Flag(help: "Print the final summary as one JSON line.")
    var json = false

    func run() async throws {
        let limit = SimulationService.raiseFileLimit()
        let setup = try makeSetup()
        let service = try SimulationService(
            devices: setup.devices, settings: setup.settings, connectRate: connectRate,
            makeTransport: { device, will in
                try MQTTTransport(
                    configuration: MQTTTransport.Configuration(
                        host: setup.host, port: setup.port, clientID: device.id.rawValue,
                        tls: setup.caFile.map { MQTTTransport.TLS(caFile: $0) }, username: device.username,
                        password: device.password, will: will, keepAlive: .seconds(keepalive)))
            }, log: { say($0) })
        say(
            "simulating \(setup.devices.count) devices on \(setup.host):\(setup.port), data in \(data), open files limit \(limit)"
        )
        let starting = Task { await service.start() }
        let traffic = Task { await service.runTraffic() }
        let printing = Task {
            var updating = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                if Task.isCancelled { break }
                let progress = service.progress()
                say(progress.line)
                // Downloads leave freed buffers in malloc's arenas; give them back once they settle.
                if updating > 0 && progress.updating == 0 { service.releaseFreedMemory() }
                updating = progress.updating
            }
        }
        await waitForEnd()
        starting.cancel()
        await starting.value
        printing.cancel()
        traffic.cancel()
        await traffic.value
        let summary = service.progress()
        say(summary.line)
        await service.stop()
        if json { say(summary.json()) }
    }

    /// Returns after `--duration`, or at SIGINT or SIGTERM.
    private func waitForEnd() async {
        let signals = Serve.terminationSignals()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await signal in signals {
                    say("received signal \(signal), stopping the simulated devices")
                    return
                }
            }
            if duration > 0 {
                let seconds = duration
                group.addTask { try? await Task.sleep(for: .seconds(seconds)) }
            }
            await group.next()
            group.cancelAll()
        }
    }

    // MARK: - Setup

    private struct Setup {
        var devices: [SimulatedDevice]
        var settings: SimulationSettings
        var host: String
        var port: Int
        var caFile: String?
    }

    private func makeSetup() throws -> Setup {
        var devices: [SimulatedDevice]
        var host = "127.0.0.1"
        var port = 1883
        var ca = caFile
        var profileName = profile ?? "x86-64-gateway"
        var trustFile = trust
        if let bundles {
            let read = try DeviceBundle.read(directory: bundles, limit: count)
            devices = read.map(\.device)
            host = read[0].host
            port = read[0].port
            ca = ca ?? read[0].caFile
            profileName = profile ?? read[0].profile
            trustFile = trustFile ?? read[0].trustFile
        } else {
            let password = try passwordFile.map { path in
                String(decoding: try FileIO.read(path), as: UTF8.self).trimmingTrailingNewlines()
            }
            devices = try SimulatedDevice.numbered(prefix: idPrefix, count: count, username: username, password: password)
        }
        if let broker {
            let parts = broker.split(separator: ":")
            guard parts.count == 2, let number = Int(parts[1]) else { throw ValidationError("--broker must be HOST:PORT") }
            host = String(parts[0])
            port = number
        }
        guard let trustFile else { throw ValidationError("--trust is required (or --bundles with trust.json files)") }
        let ring: TrustRing
        do {
            ring = try TrustRing.read(path: trustFile)
        } catch {
            throw ValidationError("--trust: \(error.message)")
        }
        let firmware: FirmwareProfile
        do {
            firmware = try FirmwareProfile.load(named: profileName, from: profileDirectory)
        } catch {
            throw ValidationError("--profile: \(error.message)")
        }
        guard let modelName = ModelName(rawValue: model) else { throw ValidationError("--model: '\(model)' is not a model name") }
        let settings = SimulationSettings(
            dataDirectory: data, trust: ring, profile: firmware, model: modelName, version: version, agentVersion: agentVersion,
            telemetryInterval: .seconds(telemetryInterval), probation: .seconds(probation),
            behaviours: try BehaviourTable(parsing: behaviour),
            noise: noise, seed: seed, trafficInterval: .seconds(trafficInterval))
        return Setup(devices: devices, settings: settings, host: host, port: port, caFile: ca)
    }
}

extension String {
    /// The string without trailing line breaks (a password file's newline).
    fileprivate func trimmingTrailingNewlines() -> String {
        String(reversed().drop(while: \.isNewline).reversed())
    }
}
