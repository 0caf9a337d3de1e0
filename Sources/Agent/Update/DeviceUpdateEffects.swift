import Core

/// Fetches a package into a chunk directory and returns it with every chunk and the payload
/// checked (`ChunkDownloader` over MQTT; tests may copy a file).
public protocol PackageDownloader: Sendable {
    /// Fetches `plan.packageId` into `directory`, resuming what is there.
    func fetch(_ plan: UpdatePlan, into directory: String) async throws(UpdateFailure) -> ModelPackage
}

/// The device's update effects: packages on disk through `ModelInstaller`, models in the
/// `ModelRegistry`, states in the store, probation against `VersionHealth`.
public struct DeviceUpdateEffects: UpdateEffects {
    /// Files and verification.
    public let installer: ModelInstaller
    /// The store (installed models).
    public let store: AgentStore
    /// What serves.
    public let registry: ModelRegistry
    /// How packages arrive.
    public let downloader: any PackageDownloader
    /// Request outcomes per version.
    public let health: VersionHealth
    /// The probation rule.
    public let rule: ProbationRule
    /// How long probation lasts.
    public let probation: Duration
    /// The metered network's daily budget, if the profile has one.
    public let budget: MeteredBudget?

    /// Effects over these parts.
    public init(
        installer: ModelInstaller, store: AgentStore, registry: ModelRegistry, downloader: any PackageDownloader,
        health: VersionHealth, rule: ProbationRule, probation: Duration, budget: MeteredBudget? = nil
    ) {
        self.budget = budget
        self.installer = installer
        self.store = store
        self.registry = registry
        self.downloader = downloader
        self.health = health
        self.rule = rule
        self.probation = probation
    }

    public func activeVersion(of model: String) async -> String? {
        registry.versions(of: model)?.active
    }

    public func download(_ plan: UpdatePlan) async throws(UpdateFailure) {
        let target = installer.packagePath(plan.packageId)
        if FileIO.exists(target) { return }
        try installer.prepare()
        try await budget?.waitForRoom(plan.packageSize, what: "package \(plan.modelName) \(plan.modelVersion)")
        let package = try await downloader.fetch(plan, into: installer.downloadPath(plan.packageId))
        let bytes = package.encode()
        await budget?.record(Int64(bytes.count))
        guard package.head.id == plan.packageId else {
            throw UpdateFailure(.downloadFailed, "the package fetched is \(package.head.id), not \(plan.packageId)")
        }
        do {
            try FileIO.writeAtomically(bytes, to: target)
        } catch {
            throw UpdateFailure(.storageFailed, "cannot write \(target): \(error.message)")
        }
        try? FileIO.removeTree(installer.downloadPath(plan.packageId))
    }

    public func verifyAndStage(_ plan: UpdatePlan) async throws(UpdateFailure) {
        let path = installer.packagePath(plan.packageId)
        let verified = try await installer.verify(path: path, store: store)
        try check(verified, against: plan)
        let record = InstalledModel(
            name: plan.modelName, version: plan.modelVersion, path: path, digest: verified.manifest.model.sha256,
            state: .staged, installed: StoreConfiguration.wallClockMilliseconds())
        do {
            try await store.saveInstalledModel(record)
        } catch {
            throw UpdateFailure(.storageFailed, "cannot record the staged model: \(error)")
        }
    }

    public func swapIn(_ plan: UpdatePlan) async throws(UpdateFailure) {
        // Verified again: the staged file may have been damaged since, and this is what will serve.
        let verified = try await installer.verify(path: installer.packagePath(plan.packageId), store: store)
        try check(verified, against: plan)
        // Probation judges what this version answers from now on (it may have served before).
        health.reset(model: plan.modelName, version: plan.modelVersion)
        try installer.load(verified, registry: registry, activate: true)
        do {
            try await store.setModelState(name: plan.modelName, version: plan.modelVersion, to: .active)
        } catch {
            throw UpdateFailure(.storageFailed, "cannot record the active model: \(error)")
        }
    }

    public func watch(_ plan: UpdatePlan) async throws(UpdateFailure) {
        try? await Task.sleep(for: probation)
        guard !Task.isCancelled else { throw UpdateFailure(.probationFailed, "probation was interrupted") }
        // Everything the new version answered since the swap-in (which reset its series).
        let candidate = health.snapshot(model: plan.modelName, version: plan.modelVersion)
        let baseline = plan.previousVersion.map { health.snapshot(model: plan.modelName, version: $0) } ?? VersionHealth.Snapshot()
        if let why = rule.verdict(candidate: candidate, baseline: baseline) {
            throw UpdateFailure(.probationFailed, "\(plan.modelName) \(plan.modelVersion) failed probation: \(why)")
        }
    }

    public func swapBack(_ plan: UpdatePlan) async throws(UpdateFailure) {
        if let previous = plan.previousVersion {
            if registry.versions(of: plan.modelName)?.loaded.contains(previous) != true {
                guard let record = try? await store.installedModels(name: plan.modelName).first(where: { $0.version == previous })
                else { throw UpdateFailure(.activationFailed, "\(plan.modelName) \(previous) is no longer installed") }
                let verified = try await installer.verify(path: record.path, store: store)
                try installer.load(verified, registry: registry, activate: false)
            }
            do {
                try registry.activate(name: plan.modelName, version: previous)
                try await store.setModelState(name: plan.modelName, version: previous, to: .active)
            } catch {
                throw UpdateFailure(.activationFailed, "cannot make \(plan.modelName) \(previous) active again: \(error)")
            }
        }
        if plan.previousVersion == nil { registry.deactivate(name: plan.modelName, version: plan.modelVersion) }
        try? registry.unload(name: plan.modelName, version: plan.modelVersion)
        _ = try? await store.setModelState(name: plan.modelName, version: plan.modelVersion, to: .failed)
    }

    public func commit(_ plan: UpdatePlan) async {
        let installed = (try? await store.installedModels(name: plan.modelName)) ?? []
        for model in installed where model.version != plan.modelVersion {
            try? registry.unload(name: plan.modelName, version: model.version)
            // One previous version stays for a signed rollback; older and failed ones go.
            if model.version == plan.previousVersion && model.state == .previous { continue }
            if model.state == .active || model.state == .staged { continue }
            if (try? await store.removeInstalledModel(name: model.name, version: model.version)) == true {
                if model.path != installer.packagePath(plan.packageId) { try? FileIO.removeFile(model.path) }
            }
        }
    }

    public func discard(_ plan: UpdatePlan) async {
        try? FileIO.removeTree(installer.downloadPath(plan.packageId))
        let record = try? await store.installedModels(name: plan.modelName).first { $0.version == plan.modelVersion }
        if record == nil || record?.state == .failed || record?.state == .staged {
            if let record, record.state == .staged {
                _ = try? await store.setModelState(name: plan.modelName, version: plan.modelVersion, to: .failed)
            }
            try? FileIO.removeFile(installer.packagePath(plan.packageId))
        }
    }

    /// The package must be what the assignment named.
    private func check(_ verified: VerifiedPackage, against plan: UpdatePlan) throws(UpdateFailure) {
        guard verified.head.id == plan.packageId else {
            throw UpdateFailure(.verificationFailed, "the package is \(verified.head.id), not the assigned \(plan.packageId)")
        }
        guard verified.manifest.name == plan.modelName, verified.manifest.version.description == plan.modelVersion else {
            throw UpdateFailure(
                .verificationFailed,
                "the package holds \(verified.manifest.name) \(verified.manifest.version), not the assigned \(plan.modelName) \(plan.modelVersion)"
            )
        }
    }
}
