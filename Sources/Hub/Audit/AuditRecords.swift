/// What a change did, as recorded in the audit log.
public enum AuditAction: String, Sendable, Codable, CaseIterable {
    /// A model was created.
    case modelCreated = "model.created"
    /// A model's description, owner or four-eyes setting changed.
    case modelUpdated = "model.updated"
    /// A version was registered.
    case versionRegistered = "version.registered"
    /// A tag was set on a version.
    case tagSet = "tag.set"
    /// A tag was removed from a version.
    case tagRemoved = "tag.removed"
    /// An alias was set (or moved) to a version.
    case aliasSet = "alias.set"
    /// An alias was cleared.
    case aliasCleared = "alias.cleared"
    /// An approval was requested.
    case approvalRequested = "approval.requested"
    /// An approval was granted.
    case approvalApproved = "approval.approved"
    /// An approval was rejected or withdrawn.
    case approvalRejected = "approval.rejected"
    /// An API token was created.
    case tokenCreated = "token.created"
    /// An API token was revoked.
    case tokenRevoked = "token.revoked"
    /// A device was enrolled (or enrolled again), with new broker credentials.
    case deviceEnrolled = "device.enrolled"
    /// A device's credentials were revoked.
    case deviceDecommissioned = "device.decommissioned"
    /// A device's labels changed.
    case deviceLabelsSet = "device.labels.set"
    /// A group was created or its selector changed.
    case groupSet = "group.set"
    /// A group was removed.
    case groupRemoved = "group.removed"
    /// A rollout was created.
    case rolloutCreated = "rollout.created"
    /// A rollout moved to another state.
    case rolloutStateChanged = "rollout.state"
    /// A dataset was uploaded (or replaced).
    case datasetPut = "dataset.put"
    /// A federated round was started.
    case roundCreated = "round.created"
    /// A federated round ended (completed, failed or cancelled).
    case roundStatusChanged = "round.status"
}

/// Who made a change and when: every write to the store carries one, and the audit row the
/// store writes in the same transaction records it.
public struct ChangeContext: Sendable, Equatable {
    /// The token subject (or `local-cli` for commands run on the hub's machine).
    public var subject: String
    /// Milliseconds since the Unix epoch.
    public var time: Int64

    /// A change by `subject` at `time`.
    public init(subject: String, time: Int64) {
        self.subject = subject
        self.time = time
    }
}

/// One row of the audit log: who did what to which target, when, and the target before and after.
public struct AuditEntry: Sendable, Equatable, Codable {
    /// Its position in the log (increasing).
    public var id: Int64
    /// Milliseconds since the Unix epoch.
    public var time: Int64
    /// The token subject that made the change.
    public var subject: String
    /// What was done.
    public var action: AuditAction
    /// What it was done to, as a path (`model/digits`, `model/digits/version/1.2.0`,
    /// `model/digits/alias/production`, `model/digits/approval/7`, `token/<id>`).
    public var target: String
    /// The target before the change (nil when it did not exist).
    public var before: JSONValue?
    /// The target after the change (nil when it no longer exists).
    public var after: JSONValue?
}

/// Which audit entries to list; nil fields match everything.
public struct AuditFilter: Sendable, Equatable {
    /// A target path: matches that target and everything under it (`model/digits` also matches
    /// its versions, aliases and approvals).
    public var target: String?
    /// Only changes by this subject.
    public var subject: String?
    /// Only this action.
    public var action: AuditAction?

    /// A filter; nil fields match everything.
    public init(target: String? = nil, subject: String? = nil, action: AuditAction? = nil) {
        self.target = target
        self.subject = subject
        self.action = action
    }
}

/// Audit target paths, built in one place.
public enum AuditTarget {
    /// `model/<name>`.
    public static func model(_ name: String) -> String { "model/\(name)" }
    /// `model/<name>/version/<version>`.
    public static func version(_ name: String, _ version: String) -> String { "model/\(name)/version/\(version)" }
    /// `model/<name>/version/<version>/tag/<key>`.
    public static func tag(_ name: String, _ version: String, _ key: String) -> String {
        "model/\(name)/version/\(version)/tag/\(key)"
    }
    /// `model/<name>/alias/<alias>`.
    public static func alias(_ name: String, _ alias: String) -> String { "model/\(name)/alias/\(alias)" }
    /// `model/<name>/approval/<id>`.
    public static func approval(_ name: String, _ id: Int64) -> String { "model/\(name)/approval/\(id)" }
    /// `token/<id>`.
    public static func token(_ id: String) -> String { "token/\(id)" }
    /// `device/<id>`.
    public static func device(_ id: String) -> String { "device/\(id)" }
    /// `group/<name>`.
    public static func group(_ name: String) -> String { "group/\(name)" }
    /// `rollout/<id>`.
    public static func rollout(_ id: String) -> String { "rollout/\(id)" }
    /// `round/<id>`.
    public static func round(_ id: String) -> String { "round/\(id)" }
    /// `dataset/<name>`.
    public static func dataset(_ name: String) -> String { "dataset/\(name)" }
}
