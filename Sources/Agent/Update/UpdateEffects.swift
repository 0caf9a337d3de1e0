import Core

/// The side effects of the update state machine, each idempotent: the runner may run one again
/// after a crash. `DeviceUpdateEffects` is the device's; tests give their own.
public protocol UpdateEffects: Sendable {
    /// The version of `model` serving now, if any (the rollback target of a new update).
    func activeVersion(of model: String) async -> String?
    /// Fetches the package until the file is complete on disk; resumes what is there.
    func download(_ plan: UpdatePlan) async throws(UpdateFailure)
    /// Verifies the package (signature, digests, target, fit, model) and stages the model file.
    func verifyAndStage(_ plan: UpdatePlan) async throws(UpdateFailure)
    /// Loads the staged model and makes it the active version; the old one stays loaded.
    func swapIn(_ plan: UpdatePlan) async throws(UpdateFailure)
    /// Returns when the new model passed probation; throws why it failed.
    func watch(_ plan: UpdatePlan) async throws(UpdateFailure)
    /// Makes `plan.previousVersion` active again (or, for a first install, stops serving the
    /// new model) and marks the new one failed.
    func swapBack(_ plan: UpdatePlan) async throws(UpdateFailure)
    /// Keeps the new model; unloads the previous one from memory (its file stays for a later
    /// signed rollback) and removes older files.
    func commit(_ plan: UpdatePlan) async
    /// Removes the download and staged files of a failed or rolled-back update.
    func discard(_ plan: UpdatePlan) async
}
