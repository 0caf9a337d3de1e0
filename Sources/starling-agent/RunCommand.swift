import Agent
import ArgumentParser
import Core
import TransportMQTT

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The configuration layers every config-reading command takes.
struct ConfigOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: "The configuration file (JSON).")
    var file: String?
    @Option(name: .customLong("set"), help: "Set a key: KEY=VALUE (repeatable; wins over the environment and the file).")
    var settings: [String] = []

    /// The configuration from the file, the environment (STARLING_AGENT_...) and the flags.
    func load() throws -> AgentConfiguration {
        var environment: [String: String] = [:]
        for (key, value) in ProcessEnvironment.all where key.hasPrefix("STARLING_AGENT_") && key != Run.testStopVariable {
            environment[key] = value
        }
        return try AgentConfiguration.load(file: file, environment: environment, settings: settings)
    }
}

/// `starling-agent run`: the device daemon, until SIGINT or SIGTERM.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the agent: serve the installed models, sync with the hub, install updates.",
        discussion: "See docs/agent.md. Prints \"serving on HOST:PORT\" once the inference API listens.")

    /// Test-only: the update state in which the agent stops and waits to be killed.
    static let testStopVariable = "STARLING_AGENT_TEST_STOP_IN"

    @OptionGroup var config: ConfigOptions

    func run() async throws {
        let configuration: AgentConfiguration
        do {
            configuration = try config.load()
        } catch let error as ConfigurationError {
            throw ValidationError(error.message)
        }
        MallocArenas.limit(configuration.mallocArenas)
        let stopIn = ProcessEnvironment.all[Self.testStopVariable].flatMap(UpdateState.init(rawValue:))
        let transport = try configuration.mqtt.enabled ? Self.transport(configuration) : nil
        let runtime = try await AgentRuntime.start(
            configuration: configuration, transport: transport,
            observer: { state, plan in
                say("update: entered \(state.rawValue) \(plan?.modelName ?? "") \(plan?.modelVersion ?? "")")
                if state == stopIn {
                    say("update: stopped in \(state.rawValue) (\(Self.testStopVariable))")
                    while true { try? await Task.sleep(for: .seconds(3600)) }
                }
            }, log: { say($0) })
        let signals = Serve.terminationSignals()
        for await signal in signals {
            say("received signal \(signal), shutting down")
            break
        }
        await runtime.shutdown()
    }

    /// The broker session: persistent, with the retained offline status as last will.
    static func transport(_ configuration: AgentConfiguration) throws -> MQTTTransport {
        let mqtt = configuration.mqtt
        let password = try mqtt.passwordFile.map { path in
            String(String(decoding: try FileIO.read(path), as: UTF8.self).reversed().drop(while: \.isNewline).reversed())
        }
        let will = DeviceStatus(
            id: "status-will", time: 0, state: .offline, agentVersion: AgentVersion.current,
            firmwareProfile: configuration.profileName, reason: "connection lost")
        let device = try DeviceID(configuration.deviceID)
        return try MQTTTransport(
            configuration: MQTTTransport.Configuration(
                host: mqtt.host, port: mqtt.port, clientID: configuration.deviceID,
                tls: mqtt.caFile.map { MQTTTransport.TLS(caFile: $0, certificateFile: mqtt.certFile, keyFile: mqtt.keyFile) },
                username: mqtt.username, password: password, cleanStart: false, sessionExpiry: mqtt.sessionExpiry,
                will: Message(topic: Topic.status(device).name, payload: try MessageCodec.encode(will), qos: .atLeastOnce, retain: true),
                keepAlive: mqtt.keepalive))
    }
}

/// `starling-agent check-config`: validates a configuration without running.
struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration (file, environment, flags) and its firmware profile, then exit.")

    @Argument(help: "The configuration file (or give it with --config).")
    var path: String?
    @OptionGroup var config: ConfigOptions

    func run() throws {
        let configuration: AgentConfiguration
        let profile: FirmwareProfile
        var options = config
        if let path { options.file = path }
        do {
            configuration = try options.load()
            profile = try FirmwareProfile.load(named: configuration.profileName, from: configuration.profileDirectory)
            _ = try profile.effectiveStorageBudget(configured: configuration.storageBudgetBytes)
        } catch let error as ConfigurationError {
            throw ValidationError(error.message)
        }
        do {
            _ = try TrustRing.read(path: configuration.trustRingFile)
            if let path = configuration.revocationFile { _ = try RevocationList.read(path: path) }
        } catch {
            throw ValidationError("trust.ringFile: \(error.message)")
        }
        for path in configuration.bootstrapPackages where !FileIO.exists(path) {
            throw ValidationError("models.bootstrap: '\(path)' does not exist")
        }
        for problem in profile.mismatchesWithHost() { print("warning: profile \(profile.name): \(problem)") }
        print("configuration OK: device \(configuration.deviceID), profile \(profile.name), data in \(configuration.dataDirectory)")
    }
}

/// `starling-agent config-keys`: every configuration key with its environment name and default.
struct ConfigKeys: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config-keys", abstract: "List the configuration keys, their environment variables and defaults.")

    func run() {
        for entry in ConfigSchema.agent.entries {
            let value = entry.required ? "(required)" : entry.defaultValue.map { $0.isEmpty ? "(empty)" : $0 } ?? "(unset)"
            print("\(entry.key)  \(ConfigSchema.agent.environmentName(of: entry.key))  \(value)")
            print("    \(entry.help)")
        }
    }
}

/// Prints a line and flushes it (tests and supervisors read the output as it comes).
func say(_ line: String) {
    print(line)
    fflush(nil)
}

/// The process environment.
enum ProcessEnvironment {
    static var all: [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }
}
