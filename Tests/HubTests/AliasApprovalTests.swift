import Core
import GRDB
import Testing

@testable import Hub

@Suite("Aliases and four-eyes approvals")
struct AliasApprovalTests {
    @Test("an alias is set, moved, resolved and cleared")
    func aliases() async throws {
        try await withHub { hub in
            let one = try await ModelFixtures.register(hub, version: "1.0.0", seed: 1)
            let two = try await ModelFixtures.register(hub, version: "2.0.0", seed: 2)
            try await hub.registry.setAlias(model: "digits", alias: "canary", version: one.version, by: HubFixture.alice)
            #expect(try await hub.registry.resolve(model: "digits", alias: "canary") == one)
            let moved = try await hub.registry.setAlias(
                model: "digits", alias: "canary", version: two.version, by: HubFixture.bob)
            #expect(moved.version == two.version && moved.setBy == "bob")
            try await hub.registry.setAlias(model: "digits", alias: "shadow-eu", version: one.version, by: HubFixture.bob)
            #expect(try await hub.registry.aliases(model: "digits").map(\.name) == ["canary", "shadow-eu"])
            #expect(
                try await hub.registry.clearAlias(model: "digits", alias: "canary", by: HubFixture.bob)?.version == two.version)
            #expect(try await hub.registry.clearAlias(model: "digits", alias: "canary", by: HubFixture.bob) == nil)
            let missing = await #expect(throws: RegistryError.self) {
                try await hub.registry.resolve(model: "digits", alias: "canary")
            }
            #expect(missing?.code == .notFound)
            let unknown = await #expect(throws: RegistryError.self) {
                try await hub.registry.setAlias(
                    model: "digits", alias: "canary", version: SemanticVersion(9, 0, 0), by: HubFixture.bob)
            }
            #expect(unknown?.code == .notFound)
        }
    }

    @Test("four-eyes: production is set only by approval, and never by the requester")
    func fourEyes() async throws {
        try await withHub { hub in
            let version = try await ModelFixtures.register(hub, version: "1.0.0")
            let direct = await #expect(throws: RegistryError.self) {
                try await hub.registry.setAlias(
                    model: "digits", alias: ModelAlias.production, version: version.version, by: HubFixture.alice)
            }
            #expect(direct?.code == .approvalRequired)

            let request = try await hub.registry.requestApproval(
                model: "digits", version: version.version, note: "ship it", by: HubFixture.alice)
            #expect(request.state == .pending && request.requestedBy == "alice")
            let own = await #expect(throws: RegistryError.self) {
                try await hub.registry.approve(request.id, by: HubFixture.alice)
            }
            #expect(own?.code == .sameApprover)
            #expect(own?.message.contains("different subject") == true)
            #expect(try await hub.registry.aliases(model: "digits").isEmpty)

            let approved = try await hub.registry.approve(request.id, reason: "checked", by: HubFixture.bob)
            #expect(approved.state == .approved && approved.decidedBy == "bob")
            let production = try await hub.registry.aliases(model: "digits")
            #expect(production.map(\.name) == ["production"])
            #expect(production.first?.version == version.version && production.first?.setBy == "bob")

            let again = await #expect(throws: RegistryError.self) {
                try await hub.registry.reject(request.id, by: HubFixture.bob)
            }
            #expect(again?.code == .conflict)
        }
    }

    @Test("the schema refuses a self-approval on a four-eyes model even when the service is bypassed")
    func fourEyesInSchema() async throws {
        try await withHub { hub in
            let version = try await ModelFixtures.register(hub, version: "1.0.0")
            let request = try await hub.registry.requestApproval(model: "digits", version: version.version, by: HubFixture.alice)
            let error = await #expect(throws: HubStoreError.self) {
                try await hub.store.decideApproval(
                    id: request.id, approve: true, reason: "", change: ChangeContext(subject: "alice", time: 1))
            }
            #expect(error?.code == .refused)
            #expect(error?.message.contains("four-eyes") == true)
            #expect(try await hub.registry.approval(request.id).state == .pending)
            #expect(try await hub.registry.aliases(model: "digits").isEmpty)
        }
    }

    @Test("rejection leaves production alone; the requester may withdraw; one pending request at a time")
    func rejectAndPending() async throws {
        try await withHub { hub in
            let version = try await ModelFixtures.register(hub, version: "1.0.0")
            let first = try await hub.registry.requestApproval(model: "digits", version: version.version, by: HubFixture.alice)
            let second = await #expect(throws: RegistryError.self) {
                try await hub.registry.requestApproval(model: "digits", version: version.version, by: HubFixture.bob)
            }
            #expect(second?.code == .conflict)
            let rejected = try await hub.registry.reject(first.id, reason: "metrics too low", by: HubFixture.bob)
            #expect(rejected.state == .rejected && rejected.reason == "metrics too low")
            #expect(try await hub.registry.aliases(model: "digits").isEmpty)
            let retry = try await hub.registry.requestApproval(model: "digits", version: version.version, by: HubFixture.alice)
            let withdrawn = try await hub.registry.reject(retry.id, reason: "withdrawn", by: HubFixture.alice)
            #expect(withdrawn.decidedBy == "alice")
            let listed = try await hub.registry.approvals(model: "digits")
            #expect(listed.items.map(\.id) == [retry.id, first.id])
            #expect(try await hub.registry.approvals(model: "digits", state: .pending).items.isEmpty)
        }
    }

    @Test("with four-eyes off for a model, production is set directly and a requester may approve")
    func fourEyesOff() async throws {
        try await withHub { hub in
            try await hub.registry.createModel(name: "lab", fourEyes: false, by: HubFixture.admin)
            let one = try await ModelFixtures.register(hub, model: "lab", version: "1.0.0", seed: 1)
            let two = try await ModelFixtures.register(hub, model: "lab", version: "2.0.0", seed: 2)
            try await hub.registry.setAlias(
                model: "lab", alias: ModelAlias.production, version: one.version, by: HubFixture.alice)
            #expect(try await hub.registry.resolve(model: "lab", alias: "production") == one)
            let request = try await hub.registry.requestApproval(model: "lab", version: two.version, by: HubFixture.alice)
            try await hub.registry.approve(request.id, by: HubFixture.alice)
            #expect(try await hub.registry.resolve(model: "lab", alias: "production") == two)
        }
    }

    @Test("with four-eyes off by configuration, new models start without it")
    func fourEyesOffByDefault() async throws {
        try await withHub({ $0.registry.fourEyesByDefault = false }) { hub in
            let model = try await hub.registry.createModel(name: "lab", by: HubFixture.alice)
            #expect(!model.fourEyes)
        }
    }
}
