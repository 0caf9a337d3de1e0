import Core
import Synchronization

/// The models a simulated device "serves": names and active versions, without model bytes.
public final class ServingVersions: Sendable {
    private let active = Mutex<[String: String]>([:])

    /// Nothing serving.
    public init() {}

    /// The active version of `model`, if any.
    public func version(of model: String) -> String? {
        active.withLock { $0[model] }
    }

    /// Sets (or clears) the active version of `model`.
    public func set(_ version: String?, for model: String) {
        active.withLock { $0[model] = version }
    }

    /// The model status and telemetry name: `preferred` if it serves, else the first by name.
    public func identity(preferring preferred: String) -> ModelIdentity? {
        active.withLock { all in
            let name = all[preferred] != nil ? preferred : all.keys.sorted().first
            guard let name, let version = all[name], let model = ModelName(rawValue: name) else { return nil }
            return ModelIdentity(name: model, version: version)
        }
    }
}

/// A simulated device's update effects: the real agent's download (chunk protocol), verification
/// (every `PackageVerifier` step and the firmware profile's size limit), staging, commit and
/// clean-up from `DeviceUpdateEffects`, with activation reduced to bookkeeping: the verified
/// model is not compiled or loaded (that is what makes a simulated device light), so the second
/// verification the real agent runs before loading is not needed either.
///
/// Probation applies the real `ProbationRule` to the requests the simulated traffic recorded for
/// the new and the previous version in `health`.
public struct SimulatedUpdateEffects: UpdateEffects {
    /// The real effects that download, verify, stage, commit and discard.
    public let base: DeviceUpdateEffects
    /// What serves.
    public let serving: ServingVersions

    /// Effects over `base`'s store, files and downloader, serving through `serving`.
    public init(base: DeviceUpdateEffects, serving: ServingVersions) {
        self.base = base
        self.serving = serving
    }

    public func activeVersion(of model: String) async -> String? {
        serving.version(of: model)
    }

    public func download(_ plan: UpdatePlan) async throws(UpdateFailure) {
        try await base.download(plan)
    }

    public func verifyAndStage(_ plan: UpdatePlan) async throws(UpdateFailure) {
        try await base.verifyAndStage(plan)
    }

    public func swapIn(_ plan: UpdatePlan) async throws(UpdateFailure) {
        let known: Bool
        do {
            known = try await base.store.setModelState(name: plan.modelName, version: plan.modelVersion, to: .active)
        } catch {
            throw UpdateFailure(.storageFailed, "cannot record the active model: \(error)")
        }
        guard known else {
            throw UpdateFailure(.activationFailed, "\(plan.modelName) \(plan.modelVersion) was not staged")
        }
        serving.set(plan.modelVersion, for: plan.modelName)
    }

    public func watch(_ plan: UpdatePlan) async throws(UpdateFailure) {
        try await base.watch(plan)
    }

    public func swapBack(_ plan: UpdatePlan) async throws(UpdateFailure) {
        if let previous = plan.previousVersion {
            let known = (try? await base.store.setModelState(name: plan.modelName, version: previous, to: .active)) ?? false
            guard known else { throw UpdateFailure(.activationFailed, "\(plan.modelName) \(previous) is no longer installed") }
        }
        serving.set(plan.previousVersion, for: plan.modelName)
        _ = try? await base.store.setModelState(name: plan.modelName, version: plan.modelVersion, to: .failed)
    }

    public func commit(_ plan: UpdatePlan) async {
        await base.commit(plan)
    }

    public func discard(_ plan: UpdatePlan) async {
        await base.discard(plan)
    }
}
