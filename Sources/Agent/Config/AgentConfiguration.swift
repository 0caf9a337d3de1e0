import Core

/// Everything `starling-agent` needs to run, validated once at start-up.
///
/// Sources, highest first: `--set KEY=VALUE` flags, `STARLING_AGENT_*` environment variables,
/// the JSON configuration file, the defaults of `ConfigSchema.agent`. Every error names the key.
public struct AgentConfiguration: Sendable, Equatable {
    /// What the prediction log keeps of a request's inputs.
    public enum InputPrivacy: String, Sendable {
        /// The input tensors themselves.
        case full
        /// Only their SHA-256 (enough to spot repeats, nothing to leak).
        case digest
        /// Nothing.
        case none
    }

    /// The inference API's listener.
    public struct HTTP: Sendable, Equatable {
        /// Bind address.
        public var host: String
        /// TCP port; 0 picks a free one.
        public var port: Int
        /// An extra Unix socket listener.
        public var unixSocket: String?
        /// Largest request body in bytes.
        public var maxBodyBytes: Int
    }

    /// Micro-batching and threads.
    public struct Inference: Sendable, Equatable {
        /// Largest batch of concurrent requests.
        public var maxBatch: Int
        /// How long the first request of a batch waits for company.
        public var maxWait: Duration
        /// Kernel threads.
        public var threads: Int
    }

    /// The broker session.
    public struct MQTT: Sendable, Equatable {
        /// False: the agent runs offline, keeping everything for later.
        public var enabled: Bool
        /// Broker host.
        public var host: String
        /// Broker port.
        public var port: Int
        /// User name, with `passwordFile`.
        public var username: String?
        /// File holding the password.
        public var passwordFile: String?
        /// CA file; TLS is on when set.
        public var caFile: String?
        /// Client certificate file.
        public var certFile: String?
        /// Client key file.
        public var keyFile: String?
        /// Keepalive interval.
        public var keepalive: Duration
        /// Session expiry.
        public var sessionExpiry: Duration
    }

    /// Probation rules for a newly installed model.
    public struct Updates: Sendable, Equatable {
        /// How long a new model is watched.
        public var probation: Duration
        /// Largest tolerated rise of the error rate.
        public var maxErrorRateIncrease: Double
        /// Largest tolerated factor of p95 latency.
        public var maxLatencyRatio: Double
    }

    /// This device's id.
    public var deviceID: String
    /// Its groups.
    public var groups: [String]
    /// Root of the store, models and downloads.
    public var dataDirectory: String
    /// Firmware profile name.
    public var profileName: String
    /// Folder of firmware profiles.
    public var profileDirectory: String
    /// The inference API.
    public var http: HTTP
    /// Micro-batching and threads.
    public var inference: Inference
    /// What the prediction log keeps of inputs.
    public var inputPrivacy: InputPrivacy
    /// The broker session.
    public var mqtt: MQTT
    /// Trust ring file.
    public var trustRingFile: String
    /// Revocation list file.
    public var revocationFile: String?
    /// Probation rules.
    public var updates: Updates
    /// Telemetry period.
    public var telemetryInterval: Duration
    /// Store budget set in the configuration (the profile's applies when nil or larger).
    public var storageBudgetBytes: Int?
    /// Log level name (swift-log's).
    public var logLevel: String
    /// glibc malloc arenas (0: glibc's default of 8 per core).
    public var mallocArenas: Int
    /// Drift sketches (window length, bins).
    public var drift: DriftConfiguration
    /// Signed package files installed at start when their model has no installed version.
    public var bootstrapPackages: [String]
    /// The device's Ed25519 signing key file (signs federated updates); nil: tasks are declined.
    public var deviceKeyFile: String?
    /// Federated-learning participation.
    public var federated: FederatedConfiguration

    /// Loads and validates the configuration from its layers.
    public static func load(
        file: String?, environment: [String: String] = [:], settings: [String] = [], schema: ConfigSchema = .agent
    ) throws(ConfigurationError) -> AgentConfiguration {
        var values = ConfigValues()
        if let file { try values.addFile(file, schema: schema) }
        try values.addEnvironment(environment, schema: schema)
        try values.addFlags(settings, schema: schema)
        return try AgentConfiguration(ConfigReader(values: values, schema: schema))
    }

    init(_ reader: ConfigReader) throws(ConfigurationError) {
        deviceID = reader.text("device.id")!
        groups = reader.identifiers("device.groups") ?? []
        dataDirectory = reader.text("dataDirectory")!
        profileName = reader.text("profile.name")!
        profileDirectory = reader.text("profile.directory")!
        http = HTTP(
            host: reader.text("http.host")!, port: reader.integer("http.port")!, unixSocket: reader.text("http.unixSocket"),
            maxBodyBytes: reader.integer("http.maxBodyBytes")!)
        inference = Inference(
            maxBatch: reader.integer("inference.maxBatch")!,
            maxWait: .microseconds(reader.integer("inference.maxWaitMicroseconds")!),
            threads: reader.integer("inference.threads")!)
        inputPrivacy = InputPrivacy(rawValue: reader.text("privacy.inputs")!)!
        mqtt = MQTT(
            enabled: reader.boolean("mqtt.enabled")!, host: reader.text("mqtt.host")!, port: reader.integer("mqtt.port")!,
            username: reader.text("mqtt.username"), passwordFile: reader.text("mqtt.passwordFile"),
            caFile: reader.text("mqtt.tls.caFile"), certFile: reader.text("mqtt.tls.certFile"), keyFile: reader.text("mqtt.tls.keyFile"),
            keepalive: .seconds(reader.integer("mqtt.keepaliveSeconds")!),
            sessionExpiry: .seconds(reader.integer("mqtt.sessionExpirySeconds")!))
        trustRingFile = reader.text("trust.ringFile")!
        revocationFile = reader.text("trust.revocationFile")
        updates = Updates(
            probation: .seconds(reader.integer("updates.probationSeconds")!),
            maxErrorRateIncrease: reader.number("updates.maxErrorRateIncrease")!,
            maxLatencyRatio: reader.number("updates.maxLatencyRatio")!)
        telemetryInterval = .seconds(reader.integer("telemetry.intervalSeconds")!)
        storageBudgetBytes = reader.integer("storage.budgetMegabytes").map { $0 << 20 }
        logLevel = reader.text("log.level")!
        mallocArenas = reader.integer("process.mallocArenas")!
        drift = DriftConfiguration()
        drift.enabled = reader.boolean("drift.enabled")!
        drift.windowLength = .seconds(reader.integer("drift.windowSeconds")!)
        drift.bins = reader.integer("drift.bins")!
        bootstrapPackages = (reader.text("models.bootstrap") ?? "").split(separator: ",").map {
            String($0.trimmingPrefix(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
        }.filter { !$0.isEmpty }
        deviceKeyFile = reader.text("device.keyFile")
        federated = FederatedConfiguration(
            enabled: reader.boolean("federated.enabled")!, maxExamples: reader.integer("federated.maxExamples")!,
            localDataFile: reader.text("federated.localDataFile"), niceness: reader.integer("federated.niceness")!,
            maxMessageBytes: reader.integer("federated.maxMessageBytes")!)
        try checkCombinations(reader.values)
    }

    /// Rules that span keys.
    private func checkCombinations(_ values: ConfigValues) throws(ConfigurationError) {
        let loopback = ["127.0.0.1", "::1", "localhost"]
        if !loopback.contains(http.host), !(values["http.allowRemote"].map { $0 == .bool(true) || $0 == .text("true") } ?? false) {
            throw ConfigurationError(
                .invalidValue, key: "http.host",
                "http.host is '\(http.host)', which is not loopback: the inference API has no authentication; set http.allowRemote=true if a firewall protects it")
        }
        if (mqtt.certFile == nil) != (mqtt.keyFile == nil) {
            throw ConfigurationError(
                .invalidValue, key: mqtt.certFile == nil ? "mqtt.tls.certFile" : "mqtt.tls.keyFile",
                "mqtt.tls.certFile and mqtt.tls.keyFile go together: set both or neither")
        }
        if mqtt.certFile != nil, mqtt.caFile == nil {
            throw ConfigurationError(.missingKey, key: "mqtt.tls.caFile", "a client certificate needs TLS: set mqtt.tls.caFile too")
        }
        if (mqtt.username == nil) != (mqtt.passwordFile == nil) {
            throw ConfigurationError(
                .invalidValue, key: mqtt.username == nil ? "mqtt.username" : "mqtt.passwordFile",
                "mqtt.username and mqtt.passwordFile go together: set both or neither")
        }
    }
}
