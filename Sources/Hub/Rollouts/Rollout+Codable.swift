// The JSON forms a rollout is stored in: the plan as written by the operator (gates as text,
// phases as fractions), the state as a tagged object.

extension HealthGate: Codable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(parsing: text)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension RolloutPlan.OnFail: Codable {}

extension RolloutPlan: Codable {
    private enum Keys: String, CodingKey { case phases, gates, minDevices, observeMilliseconds, onFail, split, minSamples }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        self.init(
            phases: try c.decode([Double].self, forKey: .phases), gates: try c.decode([HealthGate].self, forKey: .gates),
            minDevices: try c.decode(Int.self, forKey: .minDevices),
            observeMilliseconds: try c.decode(Int64.self, forKey: .observeMilliseconds),
            onFail: try c.decode(OnFail.self, forKey: .onFail), split: try c.decodeIfPresent(Double.self, forKey: .split),
            minSamples: try c.decodeIfPresent(Int.self, forKey: .minSamples) ?? RolloutPlan.defaultMinSamples)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(phases, forKey: .phases)
        try c.encode(gates, forKey: .gates)
        try c.encode(minDevices, forKey: .minDevices)
        try c.encode(observeMilliseconds, forKey: .observeMilliseconds)
        try c.encode(onFail, forKey: .onFail)
        try c.encode(split, forKey: .split)
        try c.encode(minSamples, forKey: .minSamples)
    }
}

extension RolloutState: Codable {
    private enum Keys: String, CodingKey { case state, phase, since, reason }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let name = try c.decode(String.self, forKey: .state)
        switch name {
        case "pending": self = .pending
        case "observing": self = .observing(phase: try c.decode(Int.self, forKey: .phase), since: try c.decode(Int64.self, forKey: .since))
        case "paused": self = .paused(phase: try c.decode(Int.self, forKey: .phase), reason: try c.decode(String.self, forKey: .reason))
        case "rollingBack": self = .rollingBack(reason: try c.decode(String.self, forKey: .reason))
        case "rolledBack": self = .rolledBack(reason: try c.decode(String.self, forKey: .reason))
        case "completed": self = .completed
        default:
            throw DecodingError.dataCorruptedError(forKey: .state, in: c, debugDescription: "unknown rollout state '\(name)'")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        switch self {
        case .pending: try c.encode("pending", forKey: .state)
        case .observing(let phase, let since):
            try c.encode("observing", forKey: .state)
            try c.encode(phase, forKey: .phase)
            try c.encode(since, forKey: .since)
        case .paused(let phase, let reason):
            try c.encode("paused", forKey: .state)
            try c.encode(phase, forKey: .phase)
            try c.encode(reason, forKey: .reason)
        case .rollingBack(let reason):
            try c.encode("rollingBack", forKey: .state)
            try c.encode(reason, forKey: .reason)
        case .rolledBack(let reason):
            try c.encode("rolledBack", forKey: .state)
            try c.encode(reason, forKey: .reason)
        case .completed: try c.encode("completed", forKey: .state)
        }
    }
}
