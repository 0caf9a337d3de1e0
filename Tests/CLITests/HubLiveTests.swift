import Core
import Foundation
import Testing

/// The hub commands against a real `starling-hub serve`: registry, approvals, tokens and audit
/// end to end through both executables.
@Suite("starling hub client, live")
struct HubLiveTests {
    /// Writes an untrained int8 MLP's model file to `path`.
    static func writeModel(_ path: String, seed: UInt64) throws {
        let graph = try ModelBuilder.build(.mlp(hidden: [8]), inputShape: [16], outputs: 4, seed: seed)
        let model = Model(metadata: ModelMetadata(name: "digits"), features: nil, graph: graph)
        try FileIO.writeAtomically(try ModelFile.encode(try Quantizer().quantize(model)), to: path)
    }

    /// Runs `body` with a started hub and stops it afterwards, also when `body` throws.
    static func withHub(_ body: (LiveHub) async throws -> Void) async throws {
        let hub = try await LiveHub.start()
        do {
            try await body(hub)
        } catch {
            await hub.stop()
            throw error
        }
        await hub.stop()
    }

    @Test("create, upload, tag, alias, download, and four-eyes production approval")
    func registryFlow() async throws {
        try await Self.withHub { hub in
            let model = hub.directory + "/digits.starling"
            try Self.writeModel(model, seed: 1)

            let created = try await hub.cli([
                "registry", "create", "digits", "--description", "handwritten digits", "--owner", "ml",
            ])
            #expect(created.status == 0, "\(created.stderr)")
            #expect(created.stdout == "Created model digits (four-eyes on).\n")

            let uploaded = try await hub.cli(
                [
                    "registry", "upload", "digits", "1.0.0", model, "--training-run", "run-42", "--metadata",
                    #"{"accuracy": 0.97}"#,
                ])
            #expect(uploaded.status == 0, "\(uploaded.stderr)")
            #expect(uploaded.stdout.hasPrefix("Registered digits 1.0.0: package "))

            let version = try await hub.cli(["registry", "version", "digits", "1.0.0", "--json"])
            let record = try #require(version.json as? [String: Any])
            #expect((record["lineage"] as? [String: Any])?["trainingRun"] as? String == "run-42")
            #expect((record["metadata"] as? [String: Any])?["accuracy"] as? Double == 0.97)
            let packageId = try #require(record["packageId"] as? String)

            let tagged = try await hub.cli(["registry", "tag", "digits", "1.0.0", "stage", "qa"])
            #expect(tagged.status == 0, "\(tagged.stderr)")
            let versions = try await hub.cli(["registry", "versions", "digits"])
            #expect(versions.status == 0)
            #expect(versions.stdout.split(separator: "\n").first?.hasPrefix("VERSION  REGISTERED") == true)
            #expect(versions.stdout.contains("1.0.0") && versions.stdout.contains("stage=qa"))

            #expect(try await hub.cli(["registry", "alias", "digits", "canary", "1.0.0"]).status == 0)

            // Downloads match what the hub recorded.
            let file = hub.directory + "/back.starling"
            let download = try await hub.cli(["registry", "download", "digits", "1.0.0", "-o", file, "--json"])
            #expect(download.status == 0, "\(download.stderr)")
            #expect(try FileIO.read(file) == FileIO.read(model))
            let package = try await hub.cli([
                "registry", "download", "digits", "1.0.0", "--package", "-o", hub.directory + "/p.pkg", "--json",
            ])
            #expect((package.json as? [String: Any])?["packageId"] as? String == packageId)

            // Four-eyes: production needs an approval, and not the requester's own.
            let direct = try await hub.cli(["registry", "alias", "digits", "production", "1.0.0"])
            #expect(direct.status == 1 && direct.stderr.contains("(approvalRequired, HTTP 409)"))
            let requested = try await hub.cli(
                ["registry", "request-approval", "digits", "--version", "1.0.0", "--reason", "ship it", "--json"])
            #expect(requested.status == 0, "\(requested.stderr)")
            let id = try #require((requested.json as? [String: Any])?["id"] as? Int)
            let own = try await hub.cli(["registry", "approve", "digits", String(id)])
            #expect(own.status == 1)
            #expect(own.stderr.hasPrefix("error: ") && own.stderr.contains("(sameApprover, HTTP 409)"))

            let bob = try await hub.cli(["token", "create", "--role", "operator", "--subject", "bob"])
            #expect(bob.status == 0, "\(bob.stderr)")
            let bobToken = bob.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(bobToken.hasPrefix("stk_") && !bob.stdout.contains("Created"))
            let approved = try await hub.cli(
                ["registry", "approve", "digits", String(id), "--reason", "looks good"], token: bobToken)
            #expect(approved.status == 0, "\(approved.stderr)")
            #expect(approved.stdout.contains("digits production -> 1.0.0"))

            let aliases = try await hub.cli(["registry", "aliases", "digits", "--json"])
            let list = try #require(aliases.json as? [[String: Any]])
            #expect(Set(list.compactMap { $0["name"] as? String }) == ["canary", "production"])
            #expect(list.first { $0["name"] as? String == "production" }?["setBy"] as? String == "bob")

            let approvals = try await hub.cli(["registry", "approvals", "digits"])
            #expect(approvals.stdout.contains("approved") && approvals.stdout.contains("bob"))

            let audit = try await hub.cli(["audit", "--target", "model/digits", "--all", "--json"])
            let entries = try #require((audit.json as? [String: Any])?["items"] as? [[String: Any]])
            let actions = Set(entries.compactMap { $0["action"] as? String })
            #expect(
                actions.isSuperset(of: [
                    "model.created", "version.registered", "tag.set", "alias.set", "approval.requested", "approval.approved",
                ]))

            #expect(try await hub.cli(["registry", "unalias", "digits", "canary"]).status == 0)
            #expect(try await hub.cli(["registry", "untag", "digits", "1.0.0", "stage"]).status == 0)
        }
    }

    @Test("roles: a viewer reads but is refused changes (403); a revoked token is refused (401)")
    func rolesAndTokens() async throws {
        try await Self.withHub { hub in
            let viewer = try await hub.cli(["token", "create", "--role", "viewer", "--subject", "carol", "--json"])
            #expect(viewer.status == 0, "\(viewer.stderr)")
            let issued = try #require(viewer.json as? [String: Any])
            let secret = try #require(issued["secret"] as? String)
            let id = try #require((issued["token"] as? [String: Any])?["id"] as? String)

            // The token from a file, as an operator would keep it.
            let tokenFile = hub.directory + "/carol.token"
            try (secret + "\n").write(toFile: tokenFile, atomically: true, encoding: .utf8)
            let read = try await HubCLI.run(["registry", "models", "--hub", hub.url, "--token-file", tokenFile])
            #expect(read.status == 0, "\(read.stderr)")

            let refused = try await hub.cli(["registry", "create", "secret-model"], token: secret)
            #expect(refused.status == 1)
            #expect(refused.stderr.hasPrefix("error: ") && refused.stderr.hasSuffix("(forbidden, HTTP 403)\n"))

            let tokens = try await hub.cli(["token", "list", "--json"])
            let items = try #require((tokens.json as? [String: Any])?["items"] as? [[String: Any]])
            #expect(Set(items.compactMap { $0["subject"] as? String }) == ["alice", "carol"])
            #expect(!tokens.stdout.contains(secret))

            #expect(try await hub.cli(["token", "revoke", id]).status == 0)
            let table = try await hub.cli(["token", "list"])
            #expect(table.stdout.contains("revoked"))
            let revoked = try await hub.cli(["registry", "models"], token: secret)
            #expect(revoked.status == 1 && revoked.stderr.contains("HTTP 401"))
            let none = try await HubCLI.run(["registry", "models"], environment: ["STARLING_HUB_URL": hub.url])
            #expect(none.status == 1 && none.stderr.contains("(missingToken, HTTP 401)"))

            let audit = try await hub.cli(["audit", "--action", "token.revoked"])
            #expect(audit.status == 0 && audit.stdout.contains("token/\(id)"))
        }
    }

    @Test("lists follow the hub's pages: --limit stops, --all reads to the end")
    func pagination() async throws {
        try await Self.withHub { hub in
            for name in ["a-model", "b-model", "c-model"] {
                let created = try await hub.cli(["registry", "create", name])
                #expect(created.status == 0, "\(created.stderr)")
            }
            let first = try await hub.cli(["registry", "models", "--limit", "2", "--json"])
            let page = try #require(first.json as? [String: Any])
            #expect((page["items"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["a-model", "b-model"])
            let next = try #require(page["next"] as? String)
            let rest = try await hub.cli(["registry", "models", "--cursor", next, "--json"])
            #expect(
                ((rest.json as? [String: Any])?["items"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["c-model"]
            )
            let all = try await hub.cli(["registry", "models", "--all"])
            #expect(all.stdout.split(separator: "\n").count == 4)
            let missing = try await hub.cli(["registry", "model", "nope"])
            #expect(missing.status == 1 && missing.stderr.contains("(notFound, HTTP 404)"))
        }
    }
}
