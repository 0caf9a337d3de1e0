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

@Suite("Device update effects")
struct DeviceUpdateEffectsTests {
    /// A device serving v1 (bootstrapped) with the real registry, store and files.
    struct Device {
        let store: AgentStore
        let registry: ModelRegistry
        let health: VersionHealth
        let runner: UpdateRunner
        let events: UpdateEventLog

        init(store: AgentStore, directory: String, packages: [ModelPackage], probation: Duration = .zero) async throws {
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
            runner = UpdateRunner(store: store, effects: effects, report: { events.append($0) })
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
            let device = try await Device(store: store, directory: directory, packages: [v2])
            for _ in 0..<50 { device.health.recordSuccess(model: "digits", version: "1.0.0", latencyMicroseconds: 100) }
            // What the new version will have answered by the end of its probation: mostly failures.
            for _ in 0..<30 { device.health.recordFailure(model: "digits", version: "1.1.0") }
            for _ in 0..<10 { device.health.recordSuccess(model: "digits", version: "1.1.0", latencyMicroseconds: 100) }
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
