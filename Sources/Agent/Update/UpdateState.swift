import Core

/// Where a model update stands. Every state is persisted in the update journal before the
/// effects of entering it run, so a restart resumes from the newest entry (`UpdateMachine.recover`).
public enum UpdateState: String, Sendable, CaseIterable, Codable {
    /// No update in progress (nothing installed through an assignment yet).
    case idle
    /// Fetching the package's chunks (resumable).
    case downloading
    /// Checking the downloaded package: signature, digests, target, model validation, fit.
    case verifying
    /// Verified and on disk beside the active model; not serving.
    case staged
    /// Loading the new model and swapping it in.
    case activating
    /// Serving the new model while its health is compared with the previous version's.
    case probation
    /// The new model passed probation; it is the one the device runs.
    case committed
    /// Swapping the previous model back in.
    case rollingBack
    /// The previous model serves again; the new one is kept as failed.
    case rolledBack
    /// The update stopped before the new model served; the previous model never stopped.
    case failed

    /// Whether the update is over (a new assignment may start another).
    public var isSettled: Bool {
        switch self {
        case .idle, .committed, .rolledBack, .failed: true
        case .downloading, .verifying, .staged, .activating, .probation, .rollingBack: false
        }
    }

    /// The phase reported on `devices/{id}/events` when the state is entered.
    var phase: DeviceEvent.Phase? {
        switch self {
        case .idle: nil
        case .downloading: .downloading
        case .verifying: .verifying
        case .staged: .staged
        case .activating: .activating
        case .probation: .probation
        case .committed: .committed
        case .rollingBack: .rollingBack
        case .rolledBack: .rolledBack
        case .failed: .failed
        }
    }
}

/// One update: what a verified assignment asks for, and the version it replaces. It is written
/// with every journal entry, so recovery needs nothing but the newest entry.
public struct UpdatePlan: Sendable, Equatable, Codable {
    /// The assignment's id.
    public var assignmentId: String
    /// When the hub issued the assignment, ms since the epoch.
    public var issuedAt: Int64
    /// The model to run.
    public var modelName: String
    /// The version to run.
    public var modelVersion: String
    /// The package (`PackageHead.id`).
    public var packageId: String
    /// The package's size in bytes.
    public var packageSize: Int64
    /// The rollout, if any.
    public var rolloutId: String?
    /// The active version when the update started (rollback target); nil for a first install.
    public var previousVersion: String?

    /// A plan.
    public init(
        assignmentId: String, issuedAt: Int64, modelName: String, modelVersion: String, packageId: String,
        packageSize: Int64, rolloutId: String? = nil, previousVersion: String? = nil
    ) {
        self.assignmentId = assignmentId
        self.issuedAt = issuedAt
        self.modelName = modelName
        self.modelVersion = modelVersion
        self.packageId = packageId
        self.packageSize = packageSize
        self.rolloutId = rolloutId
        self.previousVersion = previousVersion
    }
}

/// What happens to an update: an assignment arrives, or an effect finishes.
public enum UpdateEvent: Sendable, Equatable {
    /// A verified assignment asks for `plan`.
    case assigned(UpdatePlan)
    /// Every chunk arrived and the package file is complete.
    case downloaded
    /// The package passed every check and the model file is staged.
    case verified
    /// Time to swap the staged model in.
    case activate
    /// The new model serves.
    case activated
    /// The new model passed probation.
    case probationPassed
    /// The previous model serves again.
    case restored
    /// An effect failed; the reason is for people and the event.
    case failed(UpdateFailure)
}

/// Why an effect failed: a kind for the hub's counters and a reason for people.
public struct UpdateFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The error kind reported in the event.
    public var kind: DeviceEvent.ErrorKind
    /// What went wrong, in words.
    public var reason: String

    /// A failure.
    public init(_ kind: DeviceEvent.ErrorKind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    public var description: String { "\(kind.rawValue): \(reason)" }
}

/// What the effects runner does after a transition (the journal entry is already written).
public enum UpdateAction: Sendable, Equatable {
    /// Fetch the package (resuming what is on disk).
    case download
    /// Verify the package and stage the model file.
    case verifyAndStage
    /// Move on to activation (from `staged`).
    case beginActivation
    /// Load the new model and make it active.
    case swapIn
    /// Watch the new model for the probation period.
    case watch
    /// Make the previous model active again and retire the new one.
    case swapBack
    /// Keep the new model; forget what only a rollback needed.
    case commit
    /// Remove the downloaded and staged files of a failed update.
    case discard
    /// Report the state just entered (with the failure that caused it, if any).
    case report(DeviceEvent.Phase, UpdateFailure?)
    /// Keep `plan` to start when the current update settles (the newest one wins).
    case queue(UpdatePlan)
    /// Ignore the event (it does not apply in this state); the reason says why, for tests and readers.
    case ignore(String)
}
