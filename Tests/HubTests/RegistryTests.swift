import Core
import Testing

@testable import Hub

@Suite("Registry")
struct RegistryTests {
    @Test("a model is created once; a second one of that name is a conflict; a bad name is refused")
    func createModel() async throws {
        try await withHub { hub in
            let model = try await hub.registry.createModel(
                name: "digits", description: "handwritten digits", by: HubFixture.alice)
            #expect(model.owner == "alice")
            #expect(model.fourEyes)
            #expect(try await hub.registry.model(named: "digits") == model)
            let duplicate = await #expect(throws: RegistryError.self) {
                try await hub.registry.createModel(name: "digits", by: HubFixture.bob)
            }
            #expect(duplicate?.code == .conflict)
            let bad = await #expect(throws: RegistryError.self) {
                try await hub.registry.createModel(name: "no spaces", by: HubFixture.alice)
            }
            #expect(bad?.code == .invalidArgument)
        }
    }

    @Test("registering a version builds a package that PackageVerifier accepts with the hub key's trust ring")
    func registerBuildsVerifiablePackage() async throws {
        try await withHub { hub in
            let modelFile = ModelFixtures.model(seed: 7)
            try await hub.registry.createModel(name: "digits", by: HubFixture.alice)
            let version = try await hub.registry.registerVersion(
                model: "digits", version: SemanticVersion(1, 2, 0), modelFile: modelFile,
                metadata: ["accuracy": .number(0.93), "notes": .string("first")], by: HubFixture.alice)

            let package = try await hub.registry.packageBytes(model: "digits", version: version.version)
            let ring = try TrustRing(keys: [hub.registry.signingKey.publicKey])
            let verified = try PackageVerifier(trust: ring).verify(package)
            #expect(verified.modelBytes == modelFile)
            #expect(verified.manifest.name == "digits")
            #expect(verified.manifest.version == SemanticVersion(1, 2, 0))
            #expect(verified.head.id == version.packageId)
            #expect(version.package == ArtifactReference(digest: PackageDigest.sha256(package), size: package.count))
            #expect(version.modelFile == ArtifactReference(digest: PackageDigest.sha256(modelFile), size: modelFile.count))
            #expect(version.signingKeyId == hub.registry.signingKey.keyId)
            #expect(try await hub.registry.modelFileBytes(model: "digits", version: version.version) == modelFile)

            let stranger = try TrustRing(keys: [SigningKey.generate(name: "stranger").publicKey])
            #expect(throws: ArtifactError.self) { try PackageVerifier(trust: stranger).verify(package) }
        }
    }

    @Test("a version is registered once: the same version again is a conflict, and nothing changes")
    func versionsAreRegisteredOnce() async throws {
        try await withHub { hub in
            let first = try await ModelFixtures.register(hub, version: "1.0.0", seed: 1)
            let error = await #expect(throws: RegistryError.self) {
                try await ModelFixtures.register(hub, version: "1.0.0", seed: 2)
            }
            #expect(error?.code == .conflict)
            #expect(try await hub.registry.version(model: "digits", version: first.version) == first)
        }
    }

    @Test("lineage is kept; an unknown parent or a malformed data digest is refused")
    func lineage() async throws {
        try await withHub { hub in
            let digest = PackageDigest.sha256(Array("training-set".utf8))
            try await ModelFixtures.register(hub, version: "1.0.0")
            let lineage = Lineage(
                parent: SemanticVersion(1, 0, 0), trainingRun: "run-42", federatedRound: "round-7", importSource: "onnx://x",
                dataDigests: [digest])
            let child = try await ModelFixtures.register(hub, version: "1.1.0", seed: 2, lineage: lineage)
            #expect(try await hub.registry.version(model: "digits", version: child.version).lineage == lineage)
            let package = try ModelPackage.parse(try await hub.registry.packageBytes(model: "digits", version: child.version))
            #expect(package.manifest.parent == SemanticVersion(1, 0, 0))

            let orphan = await #expect(throws: RegistryError.self) {
                try await ModelFixtures.register(hub, version: "2.0.0", lineage: Lineage(parent: SemanticVersion(0, 9, 0)))
            }
            #expect(orphan?.code == .notFound)
            let badDigest = await #expect(throws: RegistryError.self) {
                try await ModelFixtures.register(hub, version: "2.0.0", lineage: Lineage(dataDigests: ["abc"]))
            }
            #expect(badDigest?.code == .invalidArgument)
        }
    }

    @Test("an invalid model file is refused with packagingFailed and nothing is registered")
    func invalidModelRefused() async throws {
        try await withHub { hub in
            try await hub.registry.createModel(name: "digits", by: HubFixture.alice)
            let error = await #expect(throws: RegistryError.self) {
                try await hub.registry.registerVersion(
                    model: "digits", version: SemanticVersion(1, 0, 0), modelFile: Array("not a model".utf8),
                    by: HubFixture.alice)
            }
            #expect(error?.code == .packagingFailed)
            #expect(try await hub.registry.versions(model: "digits").items.isEmpty)
            #expect(try await hub.allAudit().map(\.action) == [.modelCreated])
        }
    }

    @Test("tags are set, replaced and removed; the version's content stays the same")
    func tags() async throws {
        try await withHub { hub in
            let version = try await ModelFixtures.register(hub, version: "1.0.0")
            try await hub.registry.setTag(
                model: "digits", version: version.version, key: "stage", value: "qa", by: HubFixture.bob)
            try await hub.registry.setTag(
                model: "digits", version: version.version, key: "stage", value: "done", by: HubFixture.bob)
            try await hub.registry.setTag(model: "digits", version: version.version, key: "team", value: "ml", by: HubFixture.bob)
            #expect(
                try await hub.registry.version(model: "digits", version: version.version).tags == ["stage": "done", "team": "ml"])
            #expect(try await hub.registry.removeTag(model: "digits", version: version.version, key: "team", by: HubFixture.bob))
            #expect(
                !(try await hub.registry.removeTag(model: "digits", version: version.version, key: "team", by: HubFixture.bob)))
            var stored = try await hub.registry.version(model: "digits", version: version.version)
            #expect(stored.tags == ["stage": "done"])
            stored.tags = [:]
            #expect(stored == version)
            let bad = await #expect(throws: RegistryError.self) {
                try await hub.registry.setTag(
                    model: "digits", version: version.version, key: "Bad Key", value: "", by: HubFixture.bob)
            }
            #expect(bad?.code == .invalidArgument)
        }
    }

    @Test("viewers read but cannot change; turning four-eyes off needs an admin")
    func roles() async throws {
        try await withHub { hub in
            let denied = await #expect(throws: AuthError.self) {
                try await hub.registry.createModel(name: "digits", by: HubFixture.viewer)
            }
            #expect(denied?.code == .forbidden)
            #expect(denied?.httpStatus == 403)
            try await ModelFixtures.register(hub, version: "1.0.0")
            #expect(try await hub.registry.models().items.map(\.name) == ["digits"])
            await #expect(throws: AuthError.self) {
                try await hub.registry.updateModel(name: "digits", fourEyes: false, by: HubFixture.alice)
            }
            await #expect(throws: AuthError.self) {
                try await hub.registry.createModel(name: "loose", fourEyes: false, by: HubFixture.alice)
            }
            let updated = try await hub.registry.updateModel(
                name: "digits", description: "new", fourEyes: false, by: HubFixture.admin)
            #expect(updated.description == "new" && !updated.fourEyes)
            #expect(try await hub.registry.model(named: "digits") == updated)
        }
    }
}
