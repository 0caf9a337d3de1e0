import Core

/// Decides what to do with a message on `devices/{id}/assignment`, in order: it must parse, carry
/// a signature that verifies with a trusted, unrevoked key, be addressed to this device and not
/// expired; a repeat or an assignment older than the last accepted one is ignored (the broker
/// redelivers the retained assignment on every reconnect); the version already serving is
/// ignored unless the device is headed elsewhere (the last accepted assignment, running or queued,
/// asks for another version: a rollback order then wins, and the update runner skips it if its
/// version still serves when its turn comes); an older version is refused unless the hub signed a
/// rollback order (`allowDowngrade`).
public struct AssignmentGate: Sendable {
    /// What to do with an assignment.
    public enum Decision: Sendable, Equatable {
        /// Start (or queue) this update.
        case accept(UpdatePlan)
        /// Nothing to do; the reason is logged, no event is sent.
        case ignore(String)
        /// Refused; an event reports it and the model serving keeps serving.
        case refuse(UpdateFailure)
    }

    /// This device.
    public let device: DeviceID
    /// Keys that may sign assignments (the hub's).
    public let trust: TrustRing

    /// A gate for `device` trusting `trust`.
    public init(device: DeviceID, trust: TrustRing) {
        self.device = device
        self.trust = trust
    }

    /// The decision on `payload`, received at `now` (ms since the epoch) while `activeVersion`
    /// of the assigned model serves. Verified assignments are recorded in `store`.
    public func evaluate(_ payload: [UInt8], now: Int64, store: AgentStore, activeVersion: (String) async -> String?) async
        -> Decision
    {
        let assignment: Assignment
        do {
            let signed = try SignedMessage<Assignment>(decoding: payload)
            assignment = try signed.verified { (signature, keyId, bytes) throws(ArtifactError) in
                try trust.verify(signature: signature, keyId: keyId, message: bytes)
            }
        } catch let error as ProtocolError {
            let kind: DeviceEvent.ErrorKind = error.code == .badSignature ? .verificationFailed : .protocolFailed
            return .refuse(UpdateFailure(kind, "assignment refused: \(error.message)"))
        } catch {
            return .refuse(UpdateFailure(.verificationFailed, "assignment refused: \(error)"))
        }
        let decision = await decide(assignment, now: now, store: store, activeVersion: activeVersion)
        let (outcome, reason): (AssignmentOutcome, String?) =
            switch decision {
            case .accept: (.accepted, nil)
            case .ignore(let why): (.ignored, why)
            case .refuse(let failure): (.refused, failure.reason)
            }
        do {
            try await store.recordAssignment(
                id: assignment.id, modelName: assignment.modelName.rawValue, modelVersion: assignment.modelVersion,
                issued: assignment.issuedAt, outcome: outcome, reason: reason, received: now)
        } catch {
            return .refuse(UpdateFailure(.storageFailed, "assignment \(assignment.id) could not be recorded: \(error)"))
        }
        return decision
    }

    private func decide(
        _ assignment: Assignment, now: Int64, store: AgentStore, activeVersion: (String) async -> String?
    ) async -> Decision {
        let name = assignment.modelName.rawValue
        if let seen = try? await store.assignmentOutcome(id: assignment.id) {
            return .ignore("assignment \(assignment.id) was already \(seen.rawValue)")
        }
        do {
            try assignment.check(for: device, now: now)
        } catch {
            return .refuse(UpdateFailure(.protocolFailed, "assignment refused: \(error.message)"))
        }
        if let newest = try? await store.newestAcceptedAssignment(modelName: name), assignment.issuedAt <= newest {
            return .ignore("assignment \(assignment.id) is older than the last one accepted for \(name)")
        }
        guard let wanted = SemanticVersion(assignment.modelVersion) else {
            return .refuse(UpdateFailure(.protocolFailed, "assignment \(assignment.id): '\(assignment.modelVersion)' is not a semantic version"))
        }
        let active = await activeVersion(name)
        if let active, let current = SemanticVersion(active) {
            if current.hasSamePrecedence(as: wanted) && active == assignment.modelVersion,
                await !isHeadedElsewhere(name, from: wanted, assignment: assignment, store: store)
            {
                return .ignore("\(name) \(active) already serves")
            }
            if wanted < current && !assignment.allowDowngrade {
                return .refuse(
                    UpdateFailure(
                        .downgradeRefused,
                        "assignment \(assignment.id) asks for \(name) \(wanted), older than \(current) which serves; only a signed rollback order (allowDowngrade) may do that"
                    ))
            }
        }
        return .accept(
            UpdatePlan(
                assignmentId: assignment.id, issuedAt: assignment.issuedAt, modelName: name,
                modelVersion: assignment.modelVersion, packageId: assignment.packageId, packageSize: assignment.packageSize,
                rolloutId: assignment.rolloutId, previousVersion: active))
    }

    /// Whether an accepted update to another version is running or queued, so that an assignment
    /// for the version serving now must not be dropped: without it, a rollback order arriving
    /// while the bad version installs would be lost. Only a signed rollback order turns back an
    /// update to a newer version.
    private func isHeadedElsewhere(_ name: String, from wanted: SemanticVersion, assignment: Assignment, store: AgentStore)
        async -> Bool
    {
        guard let text = try? await store.newestAcceptedVersion(modelName: name), text != assignment.modelVersion,
            let heading = SemanticVersion(text)
        else { return false }
        return wanted > heading || assignment.allowDowngrade
    }

    /// An error event (a refused assignment, a model that cannot serve).
    public static func errorEvent(_ failure: UpdateFailure, time: Int64) -> DeviceEvent {
        DeviceEvent(
            id: StoreConfiguration.randomMessageID("ev"), time: time, kind: .error, error: failure.kind,
            reason: failure.reason)
    }
}

extension DeviceEvent.ErrorKind {
    /// An assignment asked for an older version without a signed rollback order.
    public static let downgradeRefused = DeviceEvent.ErrorKind(rawValue: "downgradeRefused")
}
