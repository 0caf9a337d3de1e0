import Core

/// A rollout as an operator asks for it (`starling rollout create`, `POST /api/v1/rollouts`):
/// everything as written, checked by `RolloutRunner.create`.
public struct RolloutRequest: Sendable, Equatable, Codable {
    /// The model.
    public var model: String
    /// The version to roll out (registered).
    public var version: String
    /// A label selector (`site=lab,tier in (a,b)`), or `group:NAME` for a group's selector.
    public var target: String
    /// Phases as written, `5%,25%,100%` (ignored with `split`).
    public var phases: String?
    /// Gates as written, `error_rate <= baseline + 0.01` (none: phases advance on time alone).
    public var gates: [String]?
    /// Devices on the new version that must report before a phase passes or fails.
    public var minDevices: Int?
    /// Predictions and labels an arm needs before its metrics count (default 30).
    public var minSamples: Int?
    /// The observation window of each phase, `10m`.
    public var observe: String?
    /// `rollback` (the default) or `pause`.
    public var onFail: String?
    /// The version the candidate is compared with and rolled back to; by default the model's
    /// `production` alias, else the version most target devices run.
    public var baseline: String?
    /// An A/B split, `50%`: that share of the target runs the candidate until an operator
    /// promotes or aborts.
    public var split: String?

    /// A request.
    public init(
        model: String, version: String, target: String, phases: String? = nil, gates: [String]? = nil,
        minDevices: Int? = nil, observe: String? = nil, onFail: String? = nil, baseline: String? = nil, split: String? = nil
    ) {
        self.model = model
        self.version = version
        self.target = target
        self.phases = phases
        self.gates = gates
        self.minDevices = minDevices
        self.observe = observe
        self.onFail = onFail
        self.baseline = baseline
        self.split = split
    }

    /// The defaults a request leaves out.
    public enum Defaults {
        /// Phases without `phases`.
        public static let phases = "5%,25%,100%"
        /// Devices without `minDevices`.
        public static let minDevices = 3
        /// The window without `observe`.
        public static let observe = "10m"
    }

    /// The plan the request describes (validated).
    public func plan() throws(RolloutError) -> RolloutPlan {
        var gates: [HealthGate] = []
        for text in self.gates ?? [] { gates.append(try HealthGate(parsing: text)) }
        let onFail: RolloutPlan.OnFail
        if let text = self.onFail {
            guard let value = RolloutPlan.OnFail(rawValue: text) else {
                throw RolloutError(.invalidPlan, "on-fail '\(text)' must be rollback or pause")
            }
            onFail = value
        } else {
            onFail = .rollback
        }
        var split: Double?
        var phases: [Double]
        if let text = self.split {
            let shares = try RolloutPlan.phases(parsing: text)
            guard shares.count == 1, shares[0] < 1 else {
                throw RolloutError(.invalidPlan, "split '\(text)' must be one share below 100%, e.g. 50%")
            }
            split = shares[0]
            phases = [shares[0], 1]
        } else {
            phases = try RolloutPlan.phases(parsing: self.phases ?? Defaults.phases)
        }
        let plan = RolloutPlan(
            phases: phases, gates: gates, minDevices: minDevices ?? Defaults.minDevices,
            observeMilliseconds: try RolloutPlan.milliseconds(parsing: observe ?? Defaults.observe), onFail: onFail,
            split: split, minSamples: minSamples ?? RolloutPlan.defaultMinSamples)
        try plan.validate()
        return plan
    }
}

/// What an operator does to a running rollout.
public enum RolloutCommand: String, Sendable, CaseIterable, Codable {
    /// Move to the next phase now.
    case promote
    /// Stop where it is.
    case pause
    /// Go on after a pause (the phase's window starts again).
    case resume
    /// Assign the baseline again.
    case abort
}

extension RolloutEvent {
    /// One line of a rollout's event log.
    public struct Logged: Sendable, Equatable, Codable {
        /// When, ms since the epoch.
        public var time: Int64
        /// What happened.
        public var text: String

        /// A line.
        public init(time: Int64, text: String) {
            self.time = time
            self.text = text
        }
    }
}
