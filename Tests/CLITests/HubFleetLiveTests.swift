import Foundation
import Testing

/// `starling fleet|group|rollout` against a real `starling-hub serve` built from this tree.
@Suite("starling fleet, groups and rollouts, live")
struct HubFleetLiveTests {
    /// Fails when the hub lacks the route `arguments` use: this tree's hub has them all.
    static func requireRoute(_ hub: LiveHub, _ arguments: [String]) async throws {
        let probe = try await hub.cli(arguments)
        #expect(!probe.stderr.contains("has no route"), "\(probe.stderr)")
    }

    static func enroll(_ hub: LiveHub, _ id: String, labels: String) async throws -> CLIRunner.Result {
        try await hub.cli(
            [
                "fleet", "enroll", id, "--labels", labels, "--profile", "raspberry-pi-4", "--out", hub.directory + "/" + id,
                "--broker-host", "127.0.0.1", "--broker-port", "1883", "--ca-file", "none",
            ])
    }

    static func items(_ result: CLIRunner.Result) -> [[String: Any]] {
        ((result.json as? [String: Any])?["items"] as? [[String: Any]]) ?? []
    }

    @Test("enrol, list, show, label and decommission devices; set, list, show and remove groups")
    func fleetAndGroups() async throws {
        try await HubLiveTests.withHub { hub in
            try await Self.requireRoute(hub, ["fleet", "list"])

            let enrolled = try await Self.enroll(hub, "pi-7", labels: "site=north,tier=canary")
            #expect(enrolled.status == 0, "\(enrolled.stderr)")
            #expect(enrolled.stdout.contains("in no other place"))
            let bundle = hub.directory + "/pi-7"
            let password = try String(contentsOfFile: bundle + "/mqtt-password", encoding: .utf8)
            #expect(password.count == 43 && !enrolled.stdout.contains(password) && !enrolled.stderr.contains(password))
            let agent = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: bundle + "/agent.json")))
            #expect(((agent as? [String: Any])?["device"] as? [String: Any])?["id"] as? String == "pi-7")
            let modes = try [bundle, bundle + "/mqtt-password"].map {
                (try FileManager.default.attributesOfItem(atPath: $0)[.posixPermissions] as? NSNumber)?.intValue
            }
            #expect(modes == [0o700, 0o600])
            #expect(try await Self.enroll(hub, "pi-8", labels: "site=south").status == 0)

            let all = try await hub.cli(["fleet", "list", "--json"])
            #expect(Set(Self.items(all).compactMap { $0["id"] as? String }) == ["pi-7", "pi-8"])
            let north = try await hub.cli(["fleet", "list", "--selector", "site in (north)", "--json"])
            #expect(Self.items(north).compactMap { $0["id"] as? String } == ["pi-7"])
            let table = try await hub.cli(["fleet", "list"])
            #expect(table.stdout.hasPrefix("ID    LABELS"), "\(table.stdout)")
            #expect(table.stdout.contains("site=north,tier=canary"))

            let shown = try await hub.cli(["fleet", "show", "pi-7", "--json"])
            #expect((shown.json as? [String: Any])?["state"] as? String == "enrolled")
            #expect(try await hub.cli(["fleet", "show", "pi-7"]).stdout.contains("raspberry-pi-4"))

            let labelled = try await hub.cli(["fleet", "label", "pi-8", "site=north", "--json"])
            #expect((labelled.json as? [String: Any])?["labels"] as? [String: String] == ["site": "north"], "\(labelled.stderr)")

            let set = try await hub.cli(["group", "set", "north", "site=north"])
            #expect(set.status == 0, "\(set.stderr)")
            let groups = try await hub.cli(["group", "list", "--json"])
            #expect(Self.items(groups).first { $0["name"] as? String == "north" }?["members"] as? Int == 2)
            let group = try await hub.cli(["group", "show", "north", "--json"])
            #expect(((group.json as? [String: Any])?["devices"] as? [Any])?.count == 2)
            #expect(try await hub.cli(["group", "show", "north"]).stdout.contains("pi-8"))
            #expect(try await hub.cli(["group", "remove", "north"]).status == 0)
            #expect(Self.items(try await hub.cli(["group", "list", "--json"])).isEmpty)

            let decommissioned = try await hub.cli(["fleet", "decommission", "pi-8", "--json"])
            #expect((decommissioned.json as? [String: Any])?["state"] as? String == "decommissioned", "\(decommissioned.stderr)")

            let viewer = try await hub.cli(["token", "create", "--role", "viewer", "--subject", "carol"])
            let refused = try await hub.cli(
                ["fleet", "enroll", "pi-9", "--profile", "p", "--out", hub.directory + "/pi-9"],
                token: viewer.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
            #expect(refused.status == 1 && refused.stderr.contains("(forbidden, HTTP 403)"))

            let audit = try await hub.cli(["audit", "--target", "device/pi-7", "--json"])
            #expect(Self.items(audit).contains { $0["action"] as? String == "device.enrolled" })
        }
    }

    @Test("create a rollout as written; list, show, pause, resume and abort it")
    func rollouts() async throws {
        try await HubLiveTests.withHub { hub in
            try await Self.requireRoute(hub, ["rollout", "list"])

            let model = hub.directory + "/digits.starling"
            try HubLiveTests.writeModel(model, seed: 1)
            #expect(try await hub.cli(["registry", "create", "digits", "--no-four-eyes"]).status == 0)
            for version in ["1.0.0", "1.1.0"] {
                let uploaded = try await hub.cli(["registry", "upload", "digits", version, model])
                #expect(uploaded.status == 0, "\(uploaded.stderr)")
            }
            for id in ["pi-1", "pi-2", "pi-3"] { #expect(try await Self.enroll(hub, id, labels: "site=north").status == 0) }
            #expect(try await hub.cli(["group", "set", "north", "site=north"]).status == 0)

            let created = try await hub.cli(
                [
                    "rollout", "create", "--model", "digits", "--version", "1.1.0", "--baseline", "1.0.0", "--target",
                    "group:north",
                    "--phases", "50%,100%", "--gate", "error_rate <= baseline + 0.01", "--gate", "p95_latency <= 1.2 * baseline",
                    "--min-devices", "1", "--observe", "30s", "--on-fail", "pause", "--json",
                ])
            #expect(created.status == 0, "\(created.stderr)")
            let rollout = try #require(created.json as? [String: Any])
            let id = try #require(rollout["id"] as? String)
            #expect(rollout["candidate"] as? String == "1.1.0" && rollout["baseline"] as? String == "1.0.0")
            let plan = rollout["plan"] as? [String: Any]
            #expect(plan?["phases"] as? [Double] == [0.5, 1.0])
            #expect(plan?["gates"] as? [String] == ["error_rate <= baseline + 0.01", "p95_latency <= 1.2 * baseline"])
            #expect(plan?["observeMilliseconds"] as? Int == 30000 && plan?["minDevices"] as? Int == 1)
            #expect(plan?["onFail"] as? String == "pause")

            let listed = try await hub.cli(["rollout", "list", "--active", "--json"])
            #expect(Self.items(listed).contains { $0["id"] as? String == id })
            let shown = try await hub.cli(["rollout", "show", id])
            #expect(shown.status == 0 && shown.stdout.contains("error_rate <= baseline + 0.01"), "\(shown.stderr)")

            let paused = try await hub.cli(["rollout", "pause", id, "--reason", "checking", "--json"])
            #expect(
                ((paused.json as? [String: Any])?["state"] as? [String: Any])?["state"] as? String == "paused", "\(paused.stderr)"
            )
            let resumed = try await hub.cli(["rollout", "resume", id])
            #expect(resumed.status == 0, "\(resumed.stderr)")
            let aborted = try await hub.cli(["rollout", "abort", id, "--reason", "test", "--json"])
            let state = ((aborted.json as? [String: Any])?["state"] as? [String: Any])?["state"] as? String
            #expect(state == "rollingBack" || state == "rolledBack", "\(aborted.stderr)")
            if state == "rolledBack" {
                #expect(try await hub.cli(["rollout", "watch", id, "--interval", "100ms"]).status == 1)
            }
            let audit = try await hub.cli(["audit", "--target", "rollout/\(id)", "--json"])
            #expect(Self.items(audit).contains { $0["action"] as? String == "rollout.created" })
        }
    }
}
