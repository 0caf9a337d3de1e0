import Core
import Synchronization

// Shared with IntegrationTests (symlinked into its Shared folder).

/// A package source that holds back chunks from `from` on until `open()`: a hub stalled
/// mid-transfer, so the test can break things at a known point.
final class GatedSource: PackageSource {
    let package: ModelPackage
    let from: Int
    private let state = Mutex<(open: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    init(_ package: ModelPackage, from: Int) {
        self.package = package
        self.from = from
    }

    var head: PackageHead { package.head }

    func chunk(_ index: Int) async throws(TransferError) -> [UInt8] {
        if index >= from {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { s in
                    if s.open { return true }
                    s.waiting.append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
        return try await package.chunk(index)
    }

    /// Lets every held and future chunk through.
    func open() {
        let waiting = state.withLock { s in
            s.open = true
            defer { s.waiting = [] }
            return s.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    /// Chunk reads being held.
    var held: Int { state.withLock { $0.waiting.count } }
}

/// A catalog of fixed sources.
struct FixedCatalog: PackageCatalog {
    let sources: [any PackageSource]

    func source(for packageId: String) -> (any PackageSource)? {
        sources.first { $0.head.id == packageId }
    }
}
