import Core

extension RegistryService {
    // MARK: - Versions

    /// Registers `version` of `model` from model file bytes: validates the model, builds a package
    /// signed with the hub key, stores both in the artifact store (before the row, so a version
    /// never points at a missing artifact), then records the immutable version.
    @discardableResult
    public func registerVersion(
        model: String, version: SemanticVersion, modelFile: [UInt8], metadata: [String: JSONValue] = [:],
        lineage: Lineage = Lineage(), by principal: Principal
    ) async throws -> ModelVersion {
        try principal.require(.operator)
        _ = try await self.model(named: model)
        try RegistryNames.checkLineage(lineage)
        try RegistryNames.checkText(JSONValue.object(metadata).text, what: "the metadata", limit: 64 << 10)
        if try await mapped({ () async throws(HubStoreError) in
            try await store.version(model: model, version: version.description)
        })
            != nil
        {
            throw RegistryError(
                .conflict, "\(model) \(version) is registered already; versions are immutable, register a new one")
        }
        if let parent = lineage.parent {
            let found = try await mapped { () async throws(HubStoreError) in
                try await store.version(model: model, version: parent.description)
            }
            guard found != nil else {
                throw RegistryError(.notFound, "the parent version \(parent) of \(model) is not registered")
            }
        }
        let change = context(principal)
        let package = try buildPackage(model: model, version: version, modelFile: modelFile, lineage: lineage, time: change.time)
        let fileReference = try await mapped { () async throws(HubStoreError) in try await artifacts.put(modelFile) }
        let packageReference = try await mapped { () async throws(HubStoreError) in try await artifacts.put(package.encode()) }
        let record = ModelVersion(
            model: model, version: version, metadata: metadata, lineage: lineage, modelFile: fileReference,
            package: packageReference, packageId: package.head.id, signingKeyId: signingKey.keyId,
            registeredAt: change.time, registeredBy: principal.subject, tags: [:])
        try await mapped { () async throws(HubStoreError) in try await store.insertVersion(record, change: change) }
        return record
    }

    /// One version (`notFound` when it is not registered).
    public func version(model: String, version: SemanticVersion) async throws -> ModelVersion {
        let found = try await mapped { () async throws(HubStoreError) in
            try await store.version(model: model, version: version.description)
        }
        guard let found else { throw RegistryError(.notFound, "model '\(model.prefix(80))' has no version \(version)") }
        return found
    }

    /// A model's versions, most recently registered first.
    public func versions(model: String, page: PageRequest = PageRequest()) async throws -> Page<ModelVersion> {
        try await mapped { () async throws(HubStoreError) in try await store.versions(model: model, page: page) }
    }

    /// The signed package file of a version, from the artifact store (digest checked).
    public func packageBytes(model: String, version: SemanticVersion) async throws -> [UInt8] {
        let record = try await self.version(model: model, version: version)
        return try await mapped { () async throws(HubStoreError) in try await artifacts.get(record.package.digest) }
    }

    /// The model file of a version, from the artifact store (digest checked).
    public func modelFileBytes(model: String, version: SemanticVersion) async throws -> [UInt8] {
        let record = try await self.version(model: model, version: version)
        return try await mapped { () async throws(HubStoreError) in try await artifacts.get(record.modelFile.digest) }
    }

    // MARK: - Tags

    /// Sets tag `key` of a version to `value` (tags are mutable; the version's content is not).
    public func setTag(
        model: String, version: SemanticVersion, key: String, value: String, by principal: Principal
    ) async throws {
        try principal.require(.operator)
        try RegistryNames.checkKey(key, what: "tag key")
        try RegistryNames.checkText(value, what: "the tag value", limit: 1024)
        try await mapped { () async throws(HubStoreError) in
            try await store.setTag(
                model: model, version: version.description, key: key, value: value, change: context(principal))
        }
    }

    /// Removes tag `key` of a version; returns whether it was there.
    @discardableResult
    public func removeTag(model: String, version: SemanticVersion, key: String, by principal: Principal) async throws -> Bool {
        try principal.require(.operator)
        return try await mapped { () async throws(HubStoreError) in
            try await store.removeTag(model: model, version: version.description, key: key, change: context(principal))
        }
    }

    // MARK: - Packaging

    private func buildPackage(
        model: String, version: SemanticVersion, modelFile: [UInt8], lineage: Lineage, time: Int64
    ) throws(RegistryError) -> ModelPackage {
        let options = PackageOptions(
            name: model, version: version, createdAt: PackageManifest.timestamp(secondsSince1970: time / 1000),
            parent: lineage.parent, chunkSize: configuration.chunkSize, compressionLevel: configuration.compressionLevel)
        do throws(ArtifactError) {
            return try ModelPackage.create(model: modelFile, options: options, key: signingKey, limits: configuration.limits)
        } catch {
            throw RegistryError(.packagingFailed, "cannot package \(model) \(version): \(error.message)", underlying: error)
        }
    }
}
