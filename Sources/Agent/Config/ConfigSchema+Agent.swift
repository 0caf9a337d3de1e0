import Core

extension ConfigSchema {
    /// The keys of `starling-agent`.
    public static let agent = ConfigSchema([
        // MARK: - Device
        Entry(key: "device.id", kind: .identifier, required: true, help: "this device's id (its MQTT client id and topic level)"),
        Entry(key: "device.groups", kind: .identifiers, defaultValue: "", help: "groups the device belongs to (comma-separated)"),
        Entry(key: "device.keyFile", kind: .path, help: "the device's Ed25519 signing key (device.key of the enrolment bundle); signs federated updates, which are declined without it"),
        Entry(key: "dataDirectory", kind: .path, required: true, help: "where the store, models and downloads live"),
        Entry(key: "profile.name", kind: .identifier, required: true, help: "firmware profile (file NAME.json in profile.directory)"),
        Entry(key: "profile.directory", kind: .path, defaultValue: "/usr/share/starling/firmware-profiles", help: "folder of firmware profiles"),
        // MARK: - Inference service
        Entry(key: "http.host", kind: .text, defaultValue: "127.0.0.1", help: "address of the inference API (loopback unless http.allowRemote)"),
        Entry(key: "http.port", kind: .integer(0...65535), defaultValue: "8080", help: "TCP port of the inference API (0: any free port)"),
        Entry(key: "http.unixSocket", kind: .path, help: "also serve the API on this Unix socket"),
        Entry(key: "http.allowRemote", kind: .boolean, defaultValue: "false", help: "allow a non-loopback http.host"),
        Entry(key: "http.maxBodyBytes", kind: .integer(1024...(1 << 30)), defaultValue: "16777216", help: "largest request body"),
        Entry(key: "inference.maxBatch", kind: .integer(1...4096), defaultValue: "32", help: "largest micro-batch of concurrent requests"),
        Entry(key: "inference.maxWaitMicroseconds", kind: .integer(0...1_000_000), defaultValue: "500", help: "how long a request waits for a batch to fill"),
        Entry(key: "inference.threads", kind: .integer(0...256), defaultValue: "0", help: "int8 kernel threads (0: the profile's)"),
        Entry(key: "privacy.inputs", kind: .choice(["full", "digest", "none"]), defaultValue: "digest", help: "what the prediction log keeps of inputs"),
        // MARK: - Broker
        Entry(key: "mqtt.enabled", kind: .boolean, defaultValue: "true", help: "connect to the fleet's broker (false: offline only)"),
        Entry(key: "mqtt.host", kind: .text, defaultValue: "127.0.0.1", help: "broker host"),
        Entry(key: "mqtt.port", kind: .integer(1...65535), defaultValue: "1883", help: "broker port"),
        Entry(key: "mqtt.username", kind: .text, help: "broker user name"),
        Entry(key: "mqtt.passwordFile", kind: .path, help: "file holding the broker password (mode 0600)"),
        Entry(key: "mqtt.tls.caFile", kind: .path, help: "CA certificate(s) the broker's certificate must chain to (enables TLS)"),
        Entry(key: "mqtt.tls.certFile", kind: .path, help: "client certificate, when the broker requires one"),
        Entry(key: "mqtt.tls.keyFile", kind: .path, help: "client certificate's private key"),
        Entry(key: "mqtt.keepaliveSeconds", kind: .integer(5...3600), defaultValue: "30", help: "MQTT keepalive"),
        Entry(key: "mqtt.sessionExpirySeconds", kind: .integer(0...Int(UInt32.max)), defaultValue: "604800", help: "how long the broker keeps the session while offline"),
        // MARK: - Trust and updates
        Entry(key: "trust.ringFile", kind: .path, required: true, help: "trust ring of keys that may sign packages and assignments"),
        Entry(key: "trust.revocationFile", kind: .path, help: "revoked key ids"),
        Entry(key: "models.bootstrap", kind: .text, help: "signed package files installed at start when their model has no version yet (comma-separated)"),
        Entry(key: "updates.probationSeconds", kind: .integer(0...86_400), defaultValue: "300", help: "how long a new model is watched before it is committed"),
        Entry(key: "updates.maxErrorRateIncrease", kind: .number(0...1), defaultValue: "0.05", help: "probation fails when the error rate rises by more than this"),
        Entry(key: "updates.maxLatencyRatio", kind: .number(1...100), defaultValue: "2", help: "probation fails when p95 latency grows by more than this factor"),
        // MARK: - Federated learning
        Entry(key: "federated.enabled", kind: .boolean, defaultValue: "true", help: "answer federated-learning tasks (false: decline each with a skipped event)"),
        Entry(key: "federated.maxExamples", kind: .integer(1...1_000_000), defaultValue: "5000", help: "most recent labelled predictions used to train and evaluate locally"),
        Entry(key: "federated.localDataFile", kind: .path, help: "CSV with the model's feature columns and label column, used with the labelled predictions"),
        Entry(key: "federated.niceness", kind: .integer(0...19), defaultValue: "10", help: "nice value of the training thread, so serving keeps its CPU"),
        Entry(key: "federated.maxMessageBytes", kind: .integer(1024...268_435_455), defaultValue: "262144", help: "an update frame larger than this is sent in parts of this size (for brokers with small message limits)"),
        // MARK: - Telemetry and storage
        Entry(key: "drift.enabled", kind: .boolean, defaultValue: "true", help: "keep per-feature sketches of inputs and predictions"),
        Entry(key: "drift.windowSeconds", kind: .integer(10...86_400), defaultValue: "300", help: "length of a drift window"),
        Entry(key: "drift.bins", kind: .integer(2...1024), defaultValue: "16", help: "histogram bins per feature"),
        Entry(key: "process.mallocArenas", kind: .integer(0...64), defaultValue: "1", help: "glibc malloc arenas (0: glibc's default, 8 per core); 1 keeps the agent's memory smallest"),
        Entry(key: "telemetry.intervalSeconds", kind: .integer(1...86_400), defaultValue: "60", help: "how often status and telemetry are sent"),
        Entry(key: "storage.budgetMegabytes", kind: .integer(1...(1 << 20)), help: "store size budget (at most the profile's; default: the profile's)"),
        Entry(key: "log.level", kind: .choice(["trace", "debug", "info", "notice", "warning", "error", "critical"]), defaultValue: "info", help: "log level"),
    ])
}
