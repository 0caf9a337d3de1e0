import Core
import Synchronization
import Testing

@testable import Agent

/// Hands over packages from memory, as if every chunk had arrived.
struct MemoryDownloader: PackageDownloader {
    let packages: [ModelPackage]

    func fetch(_ plan: UpdatePlan, into directory: String) async throws(UpdateFailure) -> ModelPackage {
        guard let package = packages.first(where: { $0.head.id == plan.packageId }) else {
            throw UpdateFailure(.downloadFailed, "no package \(plan.packageId)")
        }
        return package
    }
}

/// The device's effects with `traffic` run at the start of each probation: requests answered
/// while the new version serves.
struct ProbationTrafficEffects: UpdateEffects {
    let inner: DeviceUpdateEffects
    let traffic: @Sendable (UpdatePlan) -> Void

    func activeVersion(of model: String) async -> String? { await inner.activeVersion(of: model) }
    func download(_ plan: UpdatePlan) async throws(UpdateFailure) { try await inner.download(plan) }
    func verifyAndStage(_ plan: UpdatePlan) async throws(UpdateFailure) { try await inner.verifyAndStage(plan) }
    func swapIn(_ plan: UpdatePlan) async throws(UpdateFailure) { try await inner.swapIn(plan) }
    func watch(_ plan: UpdatePlan) async throws(UpdateFailure) {
        traffic(plan)
        try await inner.watch(plan)
    }
    func swapBack(_ plan: UpdatePlan) async throws(UpdateFailure) { try await inner.swapBack(plan) }
    func commit(_ plan: UpdatePlan) async { await inner.commit(plan) }
    func discard(_ plan: UpdatePlan) async { await inner.discard(plan) }
}

@Suite("Device update effects")
struct DeviceUpdateEffectsTests {
    /// A device serving v1 (bootstrapped) with the real registry, store and files.
    struct Device {
        let store: AgentStore
        let registry: ModelRegistry
        let health: VersionHealth
        let runner: UpdateRunner
        let events: UpdateEventLog

        init(
            store: AgentStore, directory: String, packages: [ModelPackage], probation: Duration = .zero,
            duringProbation: (@Sendable (VersionHealth, UpdatePlan) -> Void)? = nil
        ) async throws {
            let installer = try InstallFixture.installer(directory)
            try installer.prepare()
            registry = ModelRegistry()
            health = VersionHealth()
            let v1 = try InstallFixture.write(InstallFixture.package("1.0.0", seed: 1), directory + "/v1.starlpkg")
            _ = try await installer.bootstrap(path: v1, store: store, registry: registry)
            let effects = DeviceUpdateEffects(
                installer: installer, store: store, registry: registry, downloader: MemoryDownloader(packages: packages),
                health: health, rule: ProbationRule(maxErrorRateIncrease: 0.05, maxLatencyRatio: 100, minRequests: 20),
                probation: probation)
            let events = UpdateEventLog()
            let health = health
            let wrapped: any UpdateEffects =
                if let duringProbation {
                    ProbationTrafficEffects(inner: effects) { duringProbation(health, $0) }
                } else {
                    effects
                }
            runner = UpdateRunner(store: store, effects: wrapped, report: { events.append($0) })
            self.events = events
            self.store = store
            try await runner.start()
        }

        func plan(_ package: ModelPackage, id: String) -> UpdatePlan {
            UpdatePlan(
                assignmentId: id, issuedAt: 1, modelName: "digits", modelVersion: package.manifest.version.description,
                packageId: package.head.id, packageSize: Int64(package.encode().count))
        }
    }

    @Test("a new version is fetched, verified, staged, swapped in, watched and committed; the old one is kept as previous")
    func commit() async throws {
        try await withStore { store, directory in
            let v2 = InstallFixture.package("1.1.0", seed: 2)
            let device = try await Device(store: store, directory: directory, packages: [v2])
            await device.runner.submit(device.plan(v2, id: "as-2"))
            await device.runner.waitUntilSettled()
            #expect(await device.runner.state == .committed)
            #expect(device.registry.versions(of: "digits")?.active == "1.1.0")
            #expect(device.registry.versions(of: "digits")?.loaded == ["1.1.0"])
            let states = try await store.installedModels(name: "digits").map { "\($0.version)=\($0.state.rawValue)" }
            #expect(Set(states) == ["1.0.0=previous", "1.1.0=active"])
        }
    }

    @Test("a new version failing more than the old one during probation is rolled back; the old one serves again")
    func probationRollback() async throws {
        try await withStore { store, directory in
            let v2 = InstallFixture.package("1.1.0", seed: 2)
            let device = try await Device(store: store, directory: directory, packages: [v2]) { health, plan in
                // What the new version answers during its probation: mostly failures.
                for _ in 0..<30 { health.recordFailure(model: "digits", version: plan.modelVersion) }
                for _ in 0..<10 { health.recordSuccess(model: "digits", version: plan.modelVersion, latencyMicroseconds: 100) }
            }
            for _ in 0..<50 { device.health.recordSuccess(model: "digits", version: "1.0.0", latencyMicroseconds: 100) }
            await device.runner.submit(device.plan(v2, id: "as-2"))
            await device.runner.waitUntilSettled()
            #expect(await device.runner.state == .rolledBack)
            #expect(device.registry.versions(of: "digits")?.active == "1.0.0")
            let states = try await store.installedModels(name: "digits").map { "\($0.version)=\($0.state.rawValue)" }
            #expect(Set(states) == ["1.0.0=active", "1.1.0=failed"])
            let rollback = try #require(device.events.all.first { $0.phase == .rollingBack })
            #expect(rollback.error == .probationFailed && rollback.reason?.contains("error rate") == true)
        }
    }

    @Test("a version swapped in again is judged on what it answers from then on, not on its earlier stint")
    func probationCountsFromSwapIn() async throws {
        try await withStore { store, directory in
            let v1 = InstallFixture.package("1.0.0", seed: 1)
            let v2 = InstallFixture.package("1.1.0", seed: 2)
            let device = try await Device(store: store, directory: directory, packages: [v1, v2]) { health, plan in
                for _ in 0..<30 { health.recordSuccess(model: "digits", version: plan.modelVersion, latencyMicroseconds: 100) }
            }
            // 1.0.0's first stint went badly (a fifth failed); 1.1.0 then serves cleanly.
            for _ in 0..<40 { device.health.recordSuccess(model: "digits", version: "1.0.0", latencyMicroseconds: 100) }
            for _ in 0..<10 { device.health.recordFailure(model: "digits", version: "1.0.0") }
            await device.runner.submit(device.plan(v2, id: "as-2"))
            await device.runner.waitUntilSettled()
            #expect(await device.runner.state == .committed)
            // A signed rollback order to 1.0.0: its clean probation must not be held against its past.
            var back = device.plan(v1, id: "as-3")
            back.issuedAt = 2
            await device.runner.submit(back)
            await device.runner.waitUntilSettled()
            #expect(await device.runner.state == .committed)
            #expect(device.registry.versions(of: "digits")?.active == "1.0.0")
            #expect(device.health.snapshot(model: "digits", version: "1.0.0").failures == 0)
        }
    }

    @Test("a package that is not the one assigned (another version under the assigned id) fails verification")
    func wrongPackage() async throws {
        try await withStore { store, directory in
            let v2 = InstallFixture.package("1.1.0", seed: 2)
            let device = try await Device(store: store, directory: directory, packages: [v2])
            var plan = device.plan(v2, id: "as-2")
            plan.modelVersion = "1.2.0"
            await device.runner.submit(plan)
            await device.runner.waitUntilSettled()
            #expect(await device.runner.state == .failed)
            #expect(device.events.all.last?.reason?.contains("not the assigned") == true)
            #expect(device.registry.versions(of: "digits")?.active == "1.0.0")
        }
    }
}
