import Core
import Foundation
import Synchronization
import Testing

@testable import Agent

/// Packages, profiles and installers for the installer and update-effects tests.
enum InstallFixture {
    static let key = try! SigningKey(name: "hub", seed: Array(repeating: 3, count: 32))
    static let rogue = try! SigningKey(name: "rogue", seed: Array(repeating: 5, count: 32))

    /// A signed package of a small random int8 MLP named "digits"; `hidden` sets its size.
    static func package(_ version: String, seed: UInt64, hidden: [Int] = [16], key: SigningKey = key) -> ModelPackage {
        let graph = try! ModelBuilder.build(.mlp(hidden: hidden), inputShape: [64], outputs: 10, seed: seed)
        let model = try! Quantizer().quantize(
            Model(metadata: ModelMetadata(name: "digits", task: "classification"), features: nil, graph: graph))
        let options = PackageOptions(
            name: "digits", version: SemanticVersion(version)!, createdAt: "2026-11-27T00:00:00Z", chunkSize: 64 << 10)
        return try! ModelPackage.create(model: try! ModelFile.encode(model), options: options, key: key)
    }

    /// A profile allowing models up to `largestModelMegabytes`.
    static func profile(largestModelMegabytes: Int = 16, dailyBytes: Int? = nil, in directory: String) throws -> FirmwareProfile {
        let network = dailyBytes.map { #"{"metered": true, "dailyByteBudget": \#($0)}"# } ?? #"{"metered": false}"#
        let json = """
            {"name": "test-device", "description": "a test device", "architecture": "x86_64", "simd": [], "threads": 1,
             "memoryBudgetMegabytes": 64, "storageBudgetMegabytes": 64, "largestModelMegabytes": \(largestModelMegabytes),
             "training": {"allowed": false, "maxSeconds": 0, "maxMemoryMegabytes": 0, "onlyWhenIdle": true, "onlyOnMainsPower": false},
             "network": \(network)}
            """
        try json.write(toFile: directory + "/test-device.json", atomically: true, encoding: .utf8)
        return try FirmwareProfile.load(named: "test-device", from: directory)
    }

    static func installer(_ directory: String, largestModelMegabytes: Int = 16) throws -> ModelInstaller {
        let verifier = PackageVerifier(trust: try TrustRing(keys: [key.publicKey]))
        return ModelInstaller(
            dataDirectory: directory + "/data", verifier: verifier,
            profile: try profile(largestModelMegabytes: largestModelMegabytes, in: directory))
    }

    static func write(_ package: ModelPackage, _ path: String) throws -> String {
        try FileIO.writeAtomically(package.encode(), to: path)
        return path
    }
}

@Suite("Model installer")
struct ModelInstallerTests {
    @Test("bootstrap installs and activates a first model once; a later bootstrap leaves it alone")
    func bootstrap() async throws {
        try await withStore { store, directory in
            let installer = try InstallFixture.installer(directory)
            try installer.prepare()
            let registry = ModelRegistry()
            let v1 = try InstallFixture.write(InstallFixture.package("1.0.0", seed: 1), directory + "/v1.starlpkg")
            let installed = try #require(try await installer.bootstrap(path: v1, store: store, registry: registry))
            #expect(installed.state == .active && installed.version == "1.0.0")
            #expect(FileIO.exists(installer.packagePath(InstallFixture.package("1.0.0", seed: 1).head.id)))
            #expect(registry.versions(of: "digits")?.active == "1.0.0")
            let v2 = try InstallFixture.write(InstallFixture.package("2.0.0", seed: 2), directory + "/v2.starlpkg")
            #expect(try await installer.bootstrap(path: v2, store: store, registry: registry) == nil)
            #expect(try await store.activeModel(name: "digits")?.version == "1.0.0")
        }
    }

    @Test("a model larger than the firmware profile allows is refused, naming the profile")
    func profileFit() async throws {
        try await withStore { store, directory in
            let installer = try InstallFixture.installer(directory, largestModelMegabytes: 1)
            let big = InstallFixture.package("1.0.0", seed: 1, hidden: [1024, 1024])
            #expect(big.manifest.model.size > 1 << 20)
            let path = try InstallFixture.write(big, directory + "/big.starlpkg")
            let error = try await #require(throws: UpdateFailure.self) { try await installer.verify(path: path, store: store) }
            #expect(error.kind == .verificationFailed)
            #expect(error.reason.contains("test-device"))
        }
    }

    @Test("a package signed by an unknown key, or altered, is refused with the verifier's reason")
    func refusedPackages() async throws {
        try await withStore { store, directory in
            let installer = try InstallFixture.installer(directory)
            let rogue = try InstallFixture.write(
                InstallFixture.package("1.0.0", seed: 1, key: InstallFixture.rogue), directory + "/rogue.starlpkg")
            let unknown = try await #require(throws: UpdateFailure.self) { try await installer.verify(path: rogue, store: store) }
            #expect(unknown.reason.contains("trust"))
            var bytes = InstallFixture.package("1.0.0", seed: 1).encode()
            bytes[bytes.count - 10] ^= 0xFF
            try FileIO.writeAtomically(bytes, to: directory + "/altered.starlpkg")
            let altered = try await #require(throws: UpdateFailure.self) {
                try await installer.verify(path: directory + "/altered.starlpkg", store: store)
            }
            #expect(altered.kind == .verificationFailed)
        }
    }

    @Test("at start, an active package corrupted on disk is never served: the previous version serves and the problem is named")
    func corruptActiveFallsBack() async throws {
        try await withStore { store, directory in
            let installer = try InstallFixture.installer(directory)
            try installer.prepare()
            for (version, seed, state) in [("1.0.0", UInt64(1), ModelInstallState.previous), ("1.1.0", 2, .active)] {
                let package = InstallFixture.package(version, seed: seed)
                let path = try InstallFixture.write(package, installer.packagePath(package.head.id))
                try await store.saveInstalledModel(
                    InstalledModel(
                        name: "digits", version: version, path: path, digest: package.manifest.model.sha256, state: state,
                        installed: Int64(seed)))
            }
            let active = try #require(try await store.activeModel(name: "digits"))
            var bytes = try FileIO.read(active.path)
            bytes[bytes.count / 2] ^= 0x55
            try FileIO.writeAtomically(bytes, to: active.path)

            let registry = ModelRegistry()
            let problems = await installer.loadInstalled(store: store, registry: registry)
            #expect(problems.count == 1 && problems[0].contains("1.1.0"))
            #expect(registry.versions(of: "digits")?.active == "1.0.0")
            #expect(try await store.activeModel(name: "digits")?.version == "1.0.0")
            #expect(try await store.installedModels(name: "digits").first { $0.version == "1.1.0" }?.state == .failed)
        }
    }
}
