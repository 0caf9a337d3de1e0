import Core

/// Settings of the registry: `Sendable`, with defaults.
public struct RegistryConfiguration: Sendable {
    /// Whether a new model requires four-eyes approval for `production` unless told otherwise.
    public var fourEyesByDefault: Bool
    /// Chunk size of the packages the hub builds, in bytes.
    public var chunkSize: Int
    /// zstd level of the packages the hub builds (1...19).
    public var compressionLevel: Int
    /// Size bounds for model files and packages.
    public var limits: ArtifactLimits

    /// Four-eyes on by default, 256 KiB chunks, zstd level 3, standard limits.
    public init(
        fourEyesByDefault: Bool = true, chunkSize: Int = 256 << 10, compressionLevel: Int = 3,
        limits: ArtifactLimits = .standard
    ) {
        self.fourEyesByDefault = fourEyesByDefault
        self.chunkSize = chunkSize
        self.compressionLevel = compressionLevel
        self.limits = limits
    }
}

/// The model registry: models, immutable versions with lineage and signed packages, tags,
/// aliases, and approvals for `production`.
///
/// Every change checks the caller's role (viewer reads, operator changes, admin switches
/// four-eyes), then goes to the `RegistryStore`, which writes it and its audit row in one
/// transaction. Errors are `RegistryError`, or `AuthError` (`forbidden`) for a role too low.
public struct RegistryService: Sendable {
    /// The registry's storage.
    public let store: any RegistryStore
    /// Where model files and packages are kept.
    public let artifacts: any ArtifactStore
    /// The key the hub signs packages with.
    public let signingKey: SigningKey
    /// Settings.
    public let configuration: RegistryConfiguration
    /// Milliseconds since the Unix epoch; injected so tests control time.
    public let now: @Sendable () -> Int64

    /// A registry on `store` and `artifacts`, signing with `signingKey`.
    public init(
        store: any RegistryStore, artifacts: any ArtifactStore, signingKey: SigningKey,
        configuration: RegistryConfiguration = RegistryConfiguration(), now: @escaping @Sendable () -> Int64
    ) {
        self.store = store
        self.artifacts = artifacts
        self.signingKey = signingKey
        self.configuration = configuration
        self.now = now
    }

    // MARK: - Models

    /// Creates a model owned by `owner` (default: the caller); four-eyes follows the configuration
    /// unless `fourEyes` is given (turning it off needs admin).
    @discardableResult
    public func createModel(
        name: String, description: String = "", owner: String? = nil, fourEyes: Bool? = nil, by principal: Principal
    ) async throws -> RegisteredModel {
        try principal.require(fourEyes == false && configuration.fourEyesByDefault ? .admin : .operator)
        try RegistryNames.checkModel(name)
        try RegistryNames.checkText(description, what: "the description", limit: 4096)
        let owner = owner ?? principal.subject
        guard (1...128).contains(owner.utf8.count) else {
            throw RegistryError(.invalidArgument, "the owner must be 1-128 bytes")
        }
        let change = context(principal)
        let model = RegisteredModel(
            name: name, description: description, owner: owner, fourEyes: fourEyes ?? configuration.fourEyesByDefault,
            createdAt: change.time, createdBy: principal.subject)
        do throws(HubStoreError) {
            try await store.insertModel(model, change: change)
        } catch {
            if error.code == .conflict { throw RegistryError(.conflict, "model '\(name)' exists already", underlying: error) }
            throw RegistryError(error)
        }
        return model
    }

    /// Changes a model's description or owner (operator) or its four-eyes setting (admin).
    @discardableResult
    public func updateModel(
        name: String, description: String? = nil, owner: String? = nil, fourEyes: Bool? = nil, by principal: Principal
    ) async throws -> RegisteredModel {
        var model = try await self.model(named: name)
        try principal.require(fourEyes != nil && fourEyes != model.fourEyes ? .admin : .operator)
        if let description {
            try RegistryNames.checkText(description, what: "the description", limit: 4096)
            model.description = description
        }
        if let owner {
            guard (1...128).contains(owner.utf8.count) else {
                throw RegistryError(.invalidArgument, "the owner must be 1-128 bytes")
            }
            model.owner = owner
        }
        if let fourEyes { model.fourEyes = fourEyes }
        try await mapped { () async throws(HubStoreError) in try await store.updateModel(model, change: context(principal)) }
        return model
    }

    /// The model called `name` (`notFound` when there is none).
    public func model(named name: String) async throws -> RegisteredModel {
        guard let model = try await mapped({ () async throws(HubStoreError) in try await store.model(named: name) }) else {
            throw RegistryError(.notFound, "there is no model '\(name.prefix(80))'")
        }
        return model
    }

    /// Models in name order.
    public func models(page: PageRequest = PageRequest()) async throws -> Page<RegisteredModel> {
        try await mapped { () async throws(HubStoreError) in try await store.models(page: page) }
    }

    // MARK: - Support

    /// Who and when, for a change by `principal` now.
    func context(_ principal: Principal) -> ChangeContext {
        ChangeContext(subject: principal.subject, time: now())
    }

    /// Runs a store call, turning its `HubStoreError` into a `RegistryError`.
    func mapped<T>(_ body: () async throws(HubStoreError) -> T) async throws(RegistryError) -> T {
        do throws(HubStoreError) {
            return try await body()
        } catch {
            throw RegistryError(error)
        }
    }
}
