import Core
import Testing

@testable import Hub

@Suite("Pagination")
struct PaginationTests {
    /// Reads every page of a list with `limit` items per page.
    static func collect<Item>(
        limit: Int, _ read: (PageRequest) async throws -> Page<Item>
    ) async throws -> (items: [Item], pages: Int) {
        var items: [Item] = []
        var request = PageRequest(limit: limit)
        var pages = 0
        while true {
            let page = try await read(request)
            pages += 1
            #expect(page.items.count <= limit)
            items += page.items
            guard let next = page.next else { return (items, pages) }
            request.cursor = next
        }
    }

    @Test("models come in name order, every one exactly once, whatever the page size", arguments: [1, 4, 23, 500])
    func models(limit: Int) async throws {
        try await withHub { hub in
            let names = (0..<23).map { "model-\(String($0 * 37 % 23, radix: 10))" }
            for name in names { try await hub.registry.createModel(name: name, by: HubFixture.alice) }
            let (items, pages) = try await Self.collect(limit: limit) { try await hub.registry.models(page: $0) }
            #expect(items.map(\.name) == names.sorted())
            #expect(pages >= (23 + limit - 1) / limit)
        }
    }

    @Test("rows added while paging never repeat or shift what is already read")
    func stableUnderInserts() async throws {
        try await withHub { hub in
            for index in 0..<6 { try await ModelFixtures.register(hub, version: "1.\(index).0", seed: UInt64(index + 1)) }
            var request = PageRequest(limit: 4)
            let first = try await hub.registry.versions(model: "digits", page: request)
            try await ModelFixtures.register(hub, version: "2.0.0", seed: 99)
            request.cursor = first.next
            let second = try await hub.registry.versions(model: "digits", page: request)
            #expect(second.next == nil)
            let read = (first.items + second.items).map(\.version.description)
            #expect(read == ["1.5.0", "1.4.0", "1.3.0", "1.2.0", "1.1.0", "1.0.0"])
        }
    }

    @Test("the audit log pages newest first, complete, and filters by target and subject")
    func auditPages() async throws {
        try await withHub { hub in
            for index in 0..<7 {
                try await hub.registry.createModel(
                    name: "m\(index)", by: index.isMultiple(of: 2) ? HubFixture.alice : HubFixture.bob)
            }
            let (entries, _) = try await Self.collect(limit: 3) {
                try await hub.audit.entries(page: $0, by: HubFixture.alice)
            }
            #expect(entries.map(\.target) == (0..<7).reversed().map { "model/m\($0)" })
            #expect(entries.map(\.id) == entries.map(\.id).sorted(by: >))
            let (bobs, _) = try await Self.collect(limit: 2) {
                try await hub.audit.entries(filter: AuditFilter(subject: "bob"), page: $0, by: HubFixture.alice)
            }
            #expect(bobs.map(\.target) == ["model/m5", "model/m3", "model/m1"])
        }
    }

    @Test("a limit out of range or a foreign cursor is refused")
    func badRequests() async throws {
        try await withHub { hub in
            try await ModelFixtures.register(hub, version: "1.0.0")
            for request in [PageRequest(limit: 0), PageRequest(limit: 501), PageRequest(limit: 5, cursor: "zzz")] {
                let error = await #expect(throws: RegistryError.self) {
                    try await hub.registry.versions(model: "digits", page: request)
                }
                #expect(error?.code == .invalidArgument)
            }
        }
    }
}
