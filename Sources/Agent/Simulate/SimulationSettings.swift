import Core

/// One simulated device: its id and how it logs in to the broker.
public struct SimulatedDevice: Sendable, Equatable {
    /// The device id (MQTT client id and topic level).
    public var id: DeviceID
    /// Its number in the fleet, from 0 (seeds its traffic).
    public var index: Int
    /// Broker user name, if the broker wants one.
    public var username: String?
    /// Broker password.
    public var password: String?

    /// A device.
    public init(id: DeviceID, index: Int, username: String? = nil, password: String? = nil) {
        self.id = id
        self.index = index
        self.username = username
        self.password = password
    }

    /// `prefix` and `number` zero-padded to `width` digits: `sim-0001`.
    public static func id(prefix: String, number: Int, width: Int = 4) -> String {
        let digits = String(number)
        return prefix + String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// `count` devices `prefix0001`, `prefix0002`, ... (more digits past 9,999), all logging in
    /// with `username` and `password` (nil: each with its own id as user name, if `password` is set).
    public static func numbered(prefix: String, count: Int, username: String? = nil, password: String? = nil)
        throws(SimulationError) -> [SimulatedDevice]
    {
        guard count >= 1 else { throw SimulationError(.invalidSetting, "--count must be at least 1") }
        let width = max(4, String(count).count)
        var devices: [SimulatedDevice] = []
        for number in 1...count {
            let text = id(prefix: prefix, number: number, width: width)
            guard let id = try? DeviceID(text) else {
                throw SimulationError(.invalidSetting, "--id-prefix: '\(text)' is not a device id (A-Z a-z 0-9 . _ - :)")
            }
            devices.append(
                SimulatedDevice(
                    id: id, index: number - 1, username: username ?? (password == nil ? nil : text), password: password))
        }
        return devices
    }
}

/// What every simulated agent of a fleet shares: the model it starts with, its trust ring and
/// profile, how its traffic behaves, and how often it reports.
public struct SimulationSettings: Sendable {
    /// Where each device's store and packages go: `dataDirectory/<device id>/`.
    public var dataDirectory: String
    /// Keys that may sign assignments and packages.
    public var trust: TrustRing
    /// The firmware profile every device claims (package target, size limit, metered budget).
    public var profile: FirmwareProfile
    /// The model each device serves at first (when its store has none active yet).
    public var model: ModelName
    /// Its version.
    public var version: String
    /// The agent version devices announce (packages may require a minimum).
    public var agentVersion: String
    /// Status and telemetry period.
    public var telemetryInterval: Duration
    /// How long a new version is watched before it is committed.
    public var probation: Duration
    /// The probation rule.
    public var rule: ProbationRule
    /// Traffic by version.
    public var behaviours: BehaviourTable
    /// Spread of the devices' fixed offsets from the behaviour (see `SimulatedTraffic`).
    public var noise: Double
    /// Seed of every device's traffic.
    public var seed: UInt64
    /// How often traffic is generated (and labels written to each store).
    public var trafficInterval: Duration

    /// Settings; by default telemetry every 60 s, no probation wait, traffic every 10 s.
    public init(
        dataDirectory: String, trust: TrustRing, profile: FirmwareProfile, model: ModelName, version: String,
        agentVersion: String = AgentVersion.current, telemetryInterval: Duration = .seconds(60), probation: Duration = .zero,
        rule: ProbationRule = ProbationRule(), behaviours: BehaviourTable = BehaviourTable(), noise: Double = 0.02,
        seed: UInt64 = 1, trafficInterval: Duration = .seconds(10)
    ) {
        self.dataDirectory = dataDirectory
        self.trust = trust
        self.profile = profile
        self.model = model
        self.version = version
        self.agentVersion = agentVersion
        self.telemetryInterval = telemetryInterval
        self.probation = probation
        self.rule = rule
        self.behaviours = behaviours
        self.noise = noise
        self.seed = seed
        self.trafficInterval = trafficInterval
    }

    /// Checks the settings; the error names the flag.
    public func validate() throws(SimulationError) {
        guard SemanticVersion(version) != nil else {
            throw SimulationError(.invalidSetting, "--version: '\(version)' is not a semantic version")
        }
        guard telemetryInterval > .zero else { throw SimulationError(.invalidSetting, "--telemetry-interval must be positive") }
        guard trafficInterval > .zero else { throw SimulationError(.invalidSetting, "--traffic-interval must be positive") }
        guard probation >= .zero else { throw SimulationError(.invalidSetting, "--probation must not be negative") }
        guard (0...0.5).contains(noise) else { throw SimulationError(.invalidSetting, "--noise must be in 0...0.5") }
        try behaviours.fallback.validate(flag: "--behaviour *")
        for (version, behaviour) in behaviours.versions { try behaviour.validate(flag: "--behaviour \(version)") }
    }
}
