import Core
import Testing

@testable import Hub

@Suite("Audit log")
struct AuditTests {
    @Test("every change writes one audit row with who, what, when, before and after")
    func everyChangeIsAudited() async throws {
        try await withHub { hub in
            try await hub.registry.createModel(name: "digits", by: HubFixture.alice)
            try await hub.registry.updateModel(name: "digits", description: "v2", by: HubFixture.bob)
            let one = try await ModelFixtures.register(hub, version: "1.0.0")
            try await hub.registry.setTag(model: "digits", version: one.version, key: "stage", value: "qa", by: HubFixture.bob)
            try await hub.registry.removeTag(model: "digits", version: one.version, key: "stage", by: HubFixture.bob)
            try await hub.registry.setAlias(model: "digits", alias: "canary", version: one.version, by: HubFixture.alice)
            try await hub.registry.clearAlias(model: "digits", alias: "canary", by: HubFixture.alice)
            let approved = try await hub.registry.requestApproval(model: "digits", version: one.version, by: HubFixture.alice)
            try await hub.registry.approve(approved.id, by: HubFixture.bob)
            let rejected = try await hub.registry.requestApproval(model: "digits", version: one.version, by: HubFixture.alice)
            try await hub.registry.reject(rejected.id, by: HubFixture.bob)
            let token = try await hub.tokens.create(subject: "ci", role: .viewer, by: HubFixture.admin)
            try await hub.tokens.revoke(id: token.record.id, by: HubFixture.admin)

            let entries = try await hub.allAudit()
            #expect(
                entries.map(\.action) == [
                    .modelCreated, .modelUpdated, .versionRegistered, .tagSet, .tagRemoved, .aliasSet, .aliasCleared,
                    .approvalRequested, .approvalApproved, .aliasSet, .approvalRequested, .approvalRejected, .tokenCreated,
                    .tokenRevoked,
                ])
            // Fleet actions are covered by FleetServiceTests, datasets by HubTrainingTests, rounds by RoundRunnerTests.
            let registryActions = AuditAction.allCases.filter {
                !$0.rawValue.hasPrefix("device.") && !$0.rawValue.hasPrefix("group.") && !$0.rawValue.hasPrefix("rollout.")
                    && !$0.rawValue.hasPrefix("dataset.") && !$0.rawValue.hasPrefix("round.")
            }
            #expect(Set(registryActions).isSubset(of: Set(entries.map(\.action))))
            #expect(
                entries.map(\.subject) == [
                    "alice", "bob", "alice", "bob", "bob", "alice", "alice", "alice", "bob", "bob", "alice", "bob", "root-admin",
                    "root-admin",
                ])
            #expect(entries.map(\.time) == entries.map(\.time).sorted())

            let update = entries[1]
            #expect(update.target == "model/digits")
            #expect(update.before?["description"] == .string(""))
            #expect(update.after?["description"] == .string("v2"))
            let registered = entries[2]
            #expect(registered.before == nil)
            #expect(registered.after?["packageId"] == .string(one.packageId))
            #expect(entries[4].before == .object(["stage": .string("qa")]) && entries[4].after == nil)
            let cleared = entries[6]
            #expect(cleared.target == "model/digits/alias/canary")
            #expect(cleared.before?["version"] == .string("1.0.0") && cleared.after == nil)
            let approval = entries[8]
            #expect(approval.before?["state"] == .string("pending") && approval.after?["state"] == .string("approved"))
            #expect(entries[9].target == "model/digits/alias/production" && entries[9].after?["setBy"] == .string("bob"))
            let revoked = entries[13]
            #expect(revoked.before?["revokedAt"] == nil && revoked.after?["revokedBy"] == .string("root-admin"))
        }
    }

    @Test("a target filter matches the target and everything under it, and nothing beside it")
    func targetFilter() async throws {
        try await withHub { hub in
            let one = try await ModelFixtures.register(hub, model: "digits", version: "1.0.0")
            try await ModelFixtures.register(hub, model: "digits2", version: "1.0.0")
            try await hub.registry.setAlias(model: "digits", alias: "canary", version: one.version, by: HubFixture.alice)
            let digits = try await hub.allAudit(AuditFilter(target: "model/digits"))
            #expect(digits.map(\.target) == ["model/digits", "model/digits/version/1.0.0", "model/digits/alias/canary"])
            let alias = try await hub.allAudit(AuditFilter(target: "model/digits/alias/canary", subject: "alice"))
            #expect(alias.map(\.action) == [.aliasSet])
            #expect(try await hub.allAudit(AuditFilter(subject: "nobody")).isEmpty)
        }
    }

    @Test("a refused change writes no audit row; reading the log needs the operator role")
    func refusedChangesLeaveNoRow() async throws {
        try await withHub { hub in
            try await hub.registry.createModel(name: "digits", by: HubFixture.alice)
            await #expect(throws: RegistryError.self) { try await hub.registry.createModel(name: "digits", by: HubFixture.bob) }
            await #expect(throws: (any Error).self) {
                try await hub.store.insertModel(
                    RegisteredModel(name: "digits", description: "", owner: "x", fourEyes: true, createdAt: 1, createdBy: "x"),
                    change: ChangeContext(subject: "x", time: 1))
            }
            #expect(try await hub.allAudit().count == 1)
            await #expect(throws: AuthError.self) { try await hub.audit.entries(by: HubFixture.viewer) }
        }
    }
}
