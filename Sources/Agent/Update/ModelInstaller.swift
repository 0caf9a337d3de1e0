import Core

/// The device's model files and how they get into the registry. Packages are kept whole and
/// signed on disk (`<data>/packages/<package id>.starlpkg`), so each start verifies what it loads
/// again: a file corrupted on disk is never served; the previous version serves instead.
public struct ModelInstaller: Sendable {
    /// The agent's data directory.
    public let dataDirectory: String
    /// Checks packages (trust ring, limits, this device's agent version and profile).
    public let verifier: PackageVerifier
    /// The device's firmware profile (largest model it may run).
    public let profile: FirmwareProfile

    /// An installer under `dataDirectory`.
    public init(dataDirectory: String, verifier: PackageVerifier, profile: FirmwareProfile) {
        self.dataDirectory = dataDirectory
        self.verifier = verifier
        self.profile = profile
    }

    /// Where verified packages live.
    public var packagesDirectory: String { dataDirectory + "/packages" }
    /// Where downloads in progress live (one chunk directory per package).
    public var downloadsDirectory: String { dataDirectory + "/downloads" }

    /// The package file of `packageId`.
    public func packagePath(_ packageId: String) -> String { packagesDirectory + "/" + packageId + ".starlpkg" }
    /// The chunk directory of `packageId`.
    public func downloadPath(_ packageId: String) -> String { downloadsDirectory + "/" + packageId }

    /// Creates the directories.
    public func prepare() throws(UpdateFailure) {
        for path in [packagesDirectory, downloadsDirectory] {
            do {
                try FileIO.createDirectory(path)
            } catch {
                throw UpdateFailure(.storageFailed, error.message)
            }
        }
    }

    /// Verifies the package file at `path` for this device: every `PackageVerifier` step, then
    /// the profile's largest model. A delta is rebuilt from the installed base in `store`.
    public func verify(path: String, store: AgentStore) async throws(UpdateFailure) -> VerifiedPackage {
        try await verify(try read(path), path: path, store: store)
    }

    /// Reads a package file within the verifier's size bounds.
    private func read(_ path: String) throws(UpdateFailure) -> [UInt8] {
        do {
            return try ModelPackage.readFile(path: path, limits: verifier.limits)
        } catch {
            throw UpdateFailure(.verificationFailed, error.message)
        }
    }

    /// `verify(path:store:)` on the bytes already read from `path`.
    private func verify(_ bytes: [UInt8], path: String, store: AgentStore) async throws(UpdateFailure) -> VerifiedPackage {
        var base: [UInt8]?
        do {
            // The base is looked up from the unverified manifest; `verify` then checks it all.
            let package = try ModelPackage.parse(bytes, limits: verifier.limits)
            if let delta = package.manifest.delta {
                base = try await baseModel(name: delta.name, version: delta.version.description, store: store)
            }
            let verified = try verifier.verify(head: package.head, payload: package.payload, base: base)
            do {
                try profile.checkModelSize(verified.modelBytes.count, name: verified.manifest.name)
            } catch {
                throw UpdateFailure(.verificationFailed, error.message)
            }
            return verified
        } catch let error as ArtifactError {
            throw UpdateFailure(.verificationFailed, "package \(path.split(separator: "/").last ?? ""): \(error.message)")
        } catch let error as UpdateFailure {
            throw error
        } catch {
            throw UpdateFailure(.verificationFailed, "\(error)")
        }
    }

    /// The model bytes of an installed version (a delta's base), verified from its package.
    private func baseModel(name: String, version: String, store: AgentStore) async throws(UpdateFailure) -> [UInt8]? {
        let installed = try? await store.installedModels(name: name).first { $0.version == version && $0.state != .failed }
        guard let installed else { return nil }
        do {
            return try verifier.unpack(try ModelPackage.readFile(path: installed.path, limits: verifier.limits)).model
        } catch {
            return nil
        }
    }

    /// Copies a verified package to its place (atomically, synced) and records it as `state`.
    public func place(_ package: VerifiedPackage, bytes: [UInt8], state: ModelInstallState, store: AgentStore) async throws(UpdateFailure)
        -> InstalledModel
    {
        try prepare()
        let path = packagePath(package.head.id)
        do {
            try FileIO.writeAtomically(bytes, to: path)
        } catch {
            throw UpdateFailure(.storageFailed, "cannot write \(path): \(error.message)")
        }
        let record = InstalledModel(
            name: package.manifest.name, version: package.manifest.version.description, path: path,
            digest: package.manifest.model.sha256, state: state, installed: StoreConfiguration.wallClockMilliseconds())
        do {
            try await store.saveInstalledModel(record)
        } catch {
            throw UpdateFailure(.storageFailed, "cannot record \(record.name) \(record.version): \(error)")
        }
        return record
    }

    /// Installs and activates the package file at `path` when no version of its model is
    /// installed yet (a device's first model). Returns the record, or nil if one was there.
    public func bootstrap(path: String, store: AgentStore, registry: ModelRegistry) async throws(UpdateFailure) -> InstalledModel? {
        let bytes = try read(path)
        let verified = try await verify(bytes, path: path, store: store)
        let existing = (try? await store.installedModels(name: verified.manifest.name)) ?? []
        guard existing.isEmpty else { return nil }
        let record = try await place(verified, bytes: bytes, state: .active, store: store)
        try load(verified, registry: registry, activate: true)
        return record
    }

    /// Loads `package`'s model into the registry (if not loaded yet), optionally activating it.
    public func load(_ package: VerifiedPackage, registry: ModelRegistry, activate: Bool) throws(UpdateFailure) {
        let name = package.manifest.name
        let version = package.manifest.version.description
        do {
            if registry.versions(of: name)?.loaded.contains(version) != true {
                try registry.load(package.model, name: name, version: version, activate: activate)
            } else if activate {
                try registry.activate(name: name, version: version)
            }
        } catch {
            throw UpdateFailure(.activationFailed, "cannot load \(name) \(version): \(error.message)")
        }
    }

    /// At start: loads the active version of every installed model, verifying its package again.
    /// A version whose file is missing or corrupt is marked failed and the newest `previous`
    /// version serves instead. Returns a line per problem.
    public func loadInstalled(store: AgentStore, registry: ModelRegistry) async -> [String] {
        var problems: [String] = []
        let installed = (try? await store.installedModels()) ?? []
        for name in Set(installed.map(\.name)).sorted() {
            let versions = installed.filter { $0.name == name }
            let candidates =
                versions.filter { $0.state == .active } + versions.filter { $0.state == .previous }.sorted { $0.installed > $1.installed }
            for candidate in candidates {
                do throws(UpdateFailure) {
                    let verified = try await verify(path: candidate.path, store: store)
                    try load(verified, registry: registry, activate: true)
                    if candidate.state != .active { _ = try? await store.setModelState(name: name, version: candidate.version, to: .active) }
                    break
                } catch {
                    problems.append("\(name) \(candidate.version) cannot serve: \(error.reason)")
                    _ = try? await store.setModelState(name: name, version: candidate.version, to: .failed)
                }
            }
        }
        return problems
    }
}
