import Core
import Foundation
import Synchronization
import Testing

@testable import Hub

/// A fresh temporary directory for one test, removed afterwards.
func withTemporaryDirectory(_ body: (String) async throws -> Void) async throws {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("starling-hub-\(UUID().uuidString.lowercased())").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    try await body(path)
}

/// A clock for tests: starts at a fixed time and moves only when told (or by 1 ms per reading,
/// so that every change gets its own time).
final class TestClock: Sendable {
    private let milliseconds = Mutex<Int64>(1_800_000_000_000)

    /// The current time, then one millisecond later.
    func now() -> Int64 {
        milliseconds.withLock { value in
            defer { value += 1 }
            return value
        }
    }

    /// Moves the clock forward.
    func advance(byMilliseconds delta: Int64) {
        milliseconds.withLock { $0 += delta }
    }
}

/// A hub on a temporary data directory, with a test clock and principals of every role.
struct HubFixture {
    let services: HubServices
    let clock: TestClock
    let directory: String

    var registry: RegistryService { services.registry }
    var tokens: TokenService { services.tokens }
    var audit: AuditService { services.audit }
    var store: SQLiteHubStore { SQLiteHubStore(services.database) }

    static let alice = Principal(subject: "alice", role: .operator)
    static let bob = Principal(subject: "bob", role: .operator)
    static let admin = Principal(subject: "root-admin", role: .admin)
    static let viewer = Principal(subject: "vera", role: .viewer)

    /// Every audit entry, oldest first.
    func allAudit(_ filter: AuditFilter = AuditFilter()) async throws -> [AuditEntry] {
        var entries: [AuditEntry] = []
        var page = PageRequest(limit: PageRequest.maxLimit)
        while true {
            let result = try await audit.entries(filter: filter, page: page, by: Self.admin)
            entries += result.items
            guard let next = result.next else { return entries.reversed() }
            page.cursor = next
        }
    }
}

/// Runs `body` on a new hub in a temporary directory, closed and removed afterwards.
func withHub(
    _ tweak: (inout HubConfiguration) -> Void = { _ in }, _ body: (HubFixture) async throws -> Void
) async throws {
    try await withTemporaryDirectory { directory in
        let clock = TestClock()
        var configuration = HubConfiguration(dataDirectory: directory + "/data", now: { clock.now() })
        configuration.registry.chunkSize = 4096
        tweak(&configuration)
        let services = try await HubServices.open(configuration)
        defer { services.close() }
        try await body(HubFixture(services: services, clock: clock, directory: directory))
    }
}

/// Test models: small int8 MLPs as model file bytes.
enum ModelFixtures {
    /// Model file bytes of an untrained int8 MLP on 16 inputs and 4 outputs; `seed` varies the weights.
    static func model(seed: UInt64 = 1, name: String = "digits") -> [UInt8] {
        let graph = try! ModelBuilder.build(.mlp(hidden: [8]), inputShape: [16], outputs: 4, seed: seed)
        let model = Model(metadata: ModelMetadata(name: name), features: nil, graph: graph)
        return try! ModelFile.encode(try! Quantizer().quantize(model))
    }

    /// A model registered as `name` `version` by alice, after creating the model if needed.
    @discardableResult
    static func register(
        _ hub: HubFixture, model name: String = "digits", version: String, seed: UInt64 = 1, lineage: Lineage = Lineage()
    ) async throws -> ModelVersion {
        if (try? await hub.registry.model(named: name)) == nil {
            try await hub.registry.createModel(name: name, by: HubFixture.alice)
        }
        return try await hub.registry.registerVersion(
            model: name, version: SemanticVersion(version)!, modelFile: model(seed: seed), lineage: lineage,
            by: HubFixture.alice)
    }
}
