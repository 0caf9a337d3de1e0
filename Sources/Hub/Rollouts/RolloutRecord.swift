/// A rollout as stored: what is rolled out where, under which plan, and where it stands.
public struct RolloutRecord: Sendable, Equatable, Codable {
    /// The rollout's id.
    public var id: String
    /// The model.
    public var model: String
    /// The version rolled out.
    public var candidate: String
    /// The version it replaces (what gates compare with and a rollback assigns); nil for a first version.
    public var baseline: String?
    /// The target devices, as a label selector.
    public var selector: String
    /// Phases, gates, window, on-fail.
    public var plan: RolloutPlan
    /// Where it stands.
    public var state: RolloutState
    /// The salt of its cohort order (`RolloutCohort`).
    public var salt: String
    /// When it was created, ms since the epoch.
    public var createdAt: Int64
    /// Who created it.
    public var createdBy: String
    /// When its state last changed, ms since the epoch.
    public var updatedAt: Int64
    /// The baseline's latest aggregates by metric name, kept for phases in which no target
    /// device runs the baseline any more.
    public var baselineMetrics: [String: Double] = [:]

    /// A record.
    public init(
        id: String, model: String, candidate: String, baseline: String?, selector: String, plan: RolloutPlan,
        state: RolloutState = .pending, salt: String, createdAt: Int64, createdBy: String, updatedAt: Int64? = nil
    ) {
        self.id = id
        self.model = model
        self.candidate = candidate
        self.baseline = baseline
        self.selector = selector
        self.plan = plan
        self.state = state
        self.salt = salt
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.updatedAt = updatedAt ?? createdAt
    }

    /// Every member, `baseline` as `null` when there is none (never absent).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(model, forKey: .model)
        try c.encode(candidate, forKey: .candidate)
        try c.encode(baseline, forKey: .baseline)
        try c.encode(selector, forKey: .selector)
        try c.encode(plan, forKey: .plan)
        try c.encode(state, forKey: .state)
        try c.encode(salt, forKey: .salt)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(createdBy, forKey: .createdBy)
        try c.encode(updatedAt, forKey: .updatedAt)
        try c.encode(baselineMetrics, forKey: .baselineMetrics)
    }
}
