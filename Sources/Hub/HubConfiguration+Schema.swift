import Core

extension ConfigSchema {
    /// Every key of `starling-hub serve --config FILE`, in documentation order. Environment
    /// variables are `STARLING_HUB_` + the key (`http.port` → `STARLING_HUB_HTTP_PORT`).
    public static let hub = ConfigSchema(
        [
            .init(key: "dataDirectory", kind: .path, defaultValue: "starling-hub-data",
                  help: "The hub's data directory: database, artifacts, signing key, broker files."),
            .init(key: "http.host", kind: .text, defaultValue: "127.0.0.1", help: "The address the REST API binds."),
            .init(key: "http.port", kind: .integer(0...65535), defaultValue: "8080", help: "The REST API's port; 0 picks a free one."),
            .init(key: "registry.fourEyes", kind: .boolean, defaultValue: "true",
                  help: "Whether new models need an approval by another subject to set `production`."),
            .init(key: "registry.chunkSize", kind: .integer(4096...(16 << 20)), defaultValue: "262144",
                  help: "Chunk size of the packages the hub builds, bytes."),
            .init(key: "registry.compressionLevel", kind: .integer(1...19), defaultValue: "3", help: "zstd level of the packages the hub builds."),
            .init(key: "mqtt.host", kind: .text,
                  help: "The broker the hub connects to; unset, the hub serves the API only (nothing reaches devices)."),
            .init(key: "mqtt.port", kind: .integer(1...65535), defaultValue: "1883", help: "The broker's port."),
            .init(key: "mqtt.tls.caFile", kind: .path, help: "CA file for a TLS connection to the broker; unset, plain TCP."),
            .init(key: "mqtt.clientId", kind: .identifier, defaultValue: "starling-hub", help: "The hub's MQTT client id."),
            .init(key: "mqtt.keepaliveSeconds", kind: .integer(5...3600), defaultValue: "30", help: "MQTT keep-alive interval."),
            .init(key: "broker.passwordFile", kind: .path,
                  help: "The broker's password file the hub writes (default: <dataDirectory>/broker/passwords)."),
            .init(key: "broker.aclFile", kind: .path, help: "The broker's ACL file the hub writes (default: <dataDirectory>/broker/acl)."),
            .init(key: "broker.hubPasswordFile", kind: .path,
                  help: "The hub's own MQTT password, created when missing (default: <dataDirectory>/broker/hub-password)."),
            .init(key: "broker.pidFile", kind: .path, help: "SIGHUP the broker whose pid this file holds after a change; unset, no reload."),
            .init(key: "bundle.brokerHost", kind: .text, help: "The broker host enrolment bundles give devices (default: mqtt.host, else 127.0.0.1)."),
            .init(key: "bundle.brokerPort", kind: .integer(1...65535), help: "The broker port bundles give devices (default: mqtt.port)."),
            .init(key: "bundle.caFile", kind: .path, help: "The CA file path on devices; unset, devices connect without TLS."),
            .init(key: "bundle.configDirectory", kind: .path, defaultValue: "/etc/starling", help: "Where a bundle's files live on the device."),
            .init(key: "bundle.dataDirectory", kind: .path, defaultValue: "/var/lib/starling", help: "The agent's data directory on the device."),
            .init(key: "rollouts.tickSeconds", kind: .number(0.05...3600), defaultValue: "5", help: "How often active rollouts are evaluated."),
            .init(
                key: "rollouts.rollbackResendSeconds", kind: .number(1...86_400), defaultValue: "60",
                help: "A device of a rolled-back rollout still reporting the candidate this long after its rollback order gets a fresh one."),
            .init(
                key: "rollouts.rollbackResends", kind: .integer(0...100), defaultValue: "3",
                help: "Fresh rollback orders a device still on the candidate gets at most."),
            .init(
                key: "rollouts.rollbackCheckMinutes", kind: .number(0...10_080), defaultValue: "30",
                help: "How long after a rollback its devices are checked for the candidate."),
            .init(
                key: "rounds.tickSeconds", kind: .number(0.05...3600), defaultValue: "0.25",
                help: "How often running federated rounds are checked for quorum and deadlines."),
            .init(
                key: "rounds.maxRetries", kind: .integer(0...100), defaultValue: "3",
                help: "How many times an iteration with too few answers opens again before its round fails."),
            .init(key: "transfer.concurrentPublishes", kind: .integer(1...1024), defaultValue: "16",
                  help: "Package chunks published at once (bounds the hub's transfer memory and rate)."),
            .init(key: "transfer.maxQueuedPerDevice", kind: .integer(1...1_000_000), defaultValue: "4096",
                  help: "Chunks queued per device at most; a request past it is refused."),
            .init(key: "transfer.maxBytesPerSecond", kind: .integer(1024...Int(Int32.max)),
                  help: "Package bytes sent per second overall, at most; unset, no limit beyond transfer.concurrentPublishes."),
        ], environmentPrefix: "STARLING_HUB_")
}

extension HubConfiguration {
    /// The configuration from defaults, then `file` (JSON), then `STARLING_HUB_*` variables in
    /// `environment`, then `settings` (`KEY=VALUE`), each overriding the one before; every value
    /// is checked, and an unknown key is an error naming the closest known one.
    public static func load(file: String?, environment: [String: String], settings: [String]) throws -> HubConfiguration {
        let schema = ConfigSchema.hub
        var values = ConfigValues()
        if let file { try values.addFile(file, schema: schema) }
        try values.addEnvironment(environment, schema: schema)
        try values.addFlags(settings, schema: schema)
        let reader = try ConfigReader(values: values, schema: schema)
        var configuration = HubConfiguration(dataDirectory: reader.text("dataDirectory")!)
        configuration.http = HTTPSettings(host: reader.text("http.host")!, port: reader.integer("http.port")!)
        configuration.registry.fourEyesByDefault = reader.boolean("registry.fourEyes")!
        configuration.registry.chunkSize = reader.integer("registry.chunkSize")!
        configuration.registry.compressionLevel = reader.integer("registry.compressionLevel")!
        if let host = reader.text("mqtt.host") {
            configuration.mqtt = HubMQTTSettings(
                host: host, port: reader.integer("mqtt.port")!, caFile: reader.text("mqtt.tls.caFile"),
                clientID: reader.text("mqtt.clientId")!, keepAlive: .seconds(reader.integer("mqtt.keepaliveSeconds")!))
        }
        var fleet = configuration.fleet
        if let path = reader.text("broker.passwordFile") { fleet.files.passwordFile = path }
        if let path = reader.text("broker.aclFile") { fleet.files.aclFile = path }
        if let path = reader.text("broker.hubPasswordFile") { fleet.files.hubPasswordFile = path }
        if let path = reader.text("broker.pidFile") { fleet.reload = .pidFile(path) }
        fleet.bundle = BundleSettings(
            brokerHost: reader.text("bundle.brokerHost") ?? configuration.mqtt?.host ?? "127.0.0.1",
            brokerPort: reader.integer("bundle.brokerPort") ?? configuration.mqtt?.port ?? 1883,
            caFile: reader.text("bundle.caFile"), configDirectory: reader.text("bundle.configDirectory")!,
            dataDirectory: reader.text("bundle.dataDirectory")!)
        configuration.fleet = fleet
        configuration.rollouts.tickInterval = .milliseconds(Int64((reader.number("rollouts.tickSeconds")! * 1000).rounded()))
        configuration.rollouts.rollbackResendInterval =
            .milliseconds(Int64((reader.number("rollouts.rollbackResendSeconds")! * 1000).rounded()))
        configuration.rollouts.rollbackResends = reader.integer("rollouts.rollbackResends")!
        configuration.rollouts.rollbackCheckPeriod =
            .milliseconds(Int64((reader.number("rollouts.rollbackCheckMinutes")! * 60_000).rounded()))
        configuration.rounds.tickInterval = .milliseconds(Int64((reader.number("rounds.tickSeconds")! * 1000).rounded()))
        configuration.rounds.maxRetries = reader.integer("rounds.maxRetries")!
        configuration.transfer.concurrentPublishes = reader.integer("transfer.concurrentPublishes")!
        configuration.transfer.maxQueuedPerDevice = reader.integer("transfer.maxQueuedPerDevice")!
        configuration.transfer.maxBytesPerSecond = reader.integer("transfer.maxBytesPerSecond")
        try configuration.validate()
        return configuration
    }
}
