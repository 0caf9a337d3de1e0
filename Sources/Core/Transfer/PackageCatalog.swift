import Synchronization

/// One package a `ChunkServer` can serve: its signed head and its payload chunks on demand.
public protocol PackageSource: Sendable {
    /// The signed head (its `id` is the package id requests name).
    var head: PackageHead { get }
    /// The bytes of payload chunk `index` (`0..<head.chunkCount`, checked by the caller).
    func chunk(_ index: Int) async throws(TransferError) -> [UInt8]
}

/// The packages a hub serves, by package id (`PackageHead.id`).
public protocol PackageCatalog: Sendable {
    /// The package with `packageId`, or nil when this hub does not serve it.
    func source(for packageId: String) -> (any PackageSource)?
}

extension ModelPackage: PackageSource {
    /// A slice of the payload in memory.
    public func chunk(_ index: Int) async throws(TransferError) -> [UInt8] {
        Array(payload[head.chunkRange(index)])
    }
}

/// Packages held in memory: for tests, benchmarks and small fleets.
public final class InMemoryPackageCatalog: PackageCatalog {
    private let packages = Mutex<[String: ModelPackage]>([:])

    /// A catalog of `packages`.
    public init(_ packages: [ModelPackage] = []) {
        for package in packages { add(package) }
    }

    /// Serves `package` (again, if it was there).
    public func add(_ package: ModelPackage) {
        packages.withLock { $0[package.head.id] = package }
    }

    /// Stops serving the package with `packageId`.
    public func remove(_ packageId: String) {
        packages.withLock { $0[packageId] = nil }
    }

    /// The package ids served, sorted.
    public var packageIds: [String] { packages.withLock { $0.keys.sorted() } }

    public func source(for packageId: String) -> (any PackageSource)? {
        packages.withLock { $0[packageId] }
    }
}

/// Package files on disk, read lazily: only the head is kept in memory, and each request reads
/// just its chunk by offset, so serving a 100 MB package does not hold 100 MB per request.
public final class PackageFileCatalog: PackageCatalog {
    private let files = Mutex<[String: PackageFile]>([:])

    /// An empty catalog.
    public init() {}

    /// Opens the package file at `path` and serves it; returns its head.
    @discardableResult
    public func add(path: String, limits: ArtifactLimits = .standard) throws(TransferError) -> PackageHead {
        let file = try PackageFile(path: path, limits: limits)
        files.withLock { $0[file.head.id] = file }
        return file.head
    }

    /// Stops serving the package with `packageId` (its file is closed once no request uses it).
    public func remove(_ packageId: String) {
        files.withLock { $0[packageId] = nil }
    }

    /// The package ids served, sorted.
    public var packageIds: [String] { files.withLock { $0.keys.sorted() } }

    public func source(for packageId: String) -> (any PackageSource)? {
        files.withLock { $0[packageId] }
    }
}
