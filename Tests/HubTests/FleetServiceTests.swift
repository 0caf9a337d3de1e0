import Core
import Foundation
import Synchronization
import Testing
import TransportMQTT

@testable import Hub

/// A fleet on a test hub, its broker files in the temporary directory, reloads counted.
struct FleetFixture {
    let hub: HubFixture
    let fleet: FleetService
    let files: BrokerFiles
    let reloads: ReloadCounter

    var store: SQLiteHubStore { hub.store }

    static func with(_ body: (FleetFixture) async throws -> Void) async throws {
        try await withHub { hub in
            let files = BrokerFiles(dataDirectory: hub.directory + "/data")
            let reloads = ReloadCounter()
            let fleet = try FleetService.open(
                hub: hub.services, files: files, reload: .custom { reloads.increment() },
                bundleSettings: BundleSettings(brokerHost: "broker.example.net"))
            try await body(FleetFixture(hub: hub, fleet: fleet, files: files, reloads: reloads))
        }
    }

    func passwordFile() throws -> MosquittoPasswordFile {
        try MosquittoPasswordFile(contentsOf: files.passwordFile)
    }

    func aclText() throws -> String {
        try String(contentsOfFile: files.aclFile, encoding: .utf8)
    }
}

final class ReloadCounter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}

@Suite("Fleet enrolment, groups and broker files")
struct FleetServiceTests {
    @Test("enrolment writes the password file from the stored hash, reloads, and returns the bundle")
    func enrol() async throws {
        try await FleetFixture.with { f in
            let bundle = try await f.fleet.enroll(
                device: "pi-7", labels: ["site": "north"], profile: "raspberry-pi-4", by: HubFixture.alice)
            #expect(bundle.password.count == 43)
            let passwords = try f.passwordFile()
            #expect(passwords.verify(bundle.password, for: "pi-7"))
            #expect(!passwords.verify("wrong", for: "pi-7"))
            let hubPassword = try FleetService.hubPassword(path: f.files.hubPasswordFile)
            #expect(passwords.verify(hubPassword, for: "hub"))
            #expect(f.reloads.value == 1)
            // The password is nowhere in the database, only its hash.
            let database = try Data(contentsOf: URL(fileURLWithPath: f.hub.services.database.path))
            #expect(database.range(of: Data(bundle.password.utf8)) == nil)

            let device = try #require(try await f.fleet.device(id: "pi-7", by: HubFixture.viewer))
            #expect(device.state == .enrolled && device.labels == ["site": "north"] && device.enrolledBy == "alice")
            await #expect(throws: HubStoreError.self) {
                try await f.fleet.enroll(device: "pi-7", profile: "raspberry-pi-4", by: HubFixture.alice)
            }
            await #expect(throws: AuthError.self) {
                try await f.fleet.enroll(device: "pi-8", profile: "raspberry-pi-4", by: HubFixture.viewer)
            }
            for bad in ["pi/7", "pi+", "", "hub"] {
                await #expect(throws: FleetError.self) {
                    try await f.fleet.enroll(device: bad, profile: "raspberry-pi-4", by: HubFixture.alice)
                }
            }
        }
    }

    @Test("decommissioning removes the account; re-enrolment gives new credentials; all audited")
    func decommission() async throws {
        try await FleetFixture.with { f in
            let first = try await f.fleet.enroll(device: "pi-7", profile: "raspberry-pi-4", by: HubFixture.alice)
            let decommissioned = try await f.fleet.decommission(device: "pi-7", by: HubFixture.bob)
            #expect(decommissioned.state == .decommissioned && decommissioned.decommissionedBy == "bob")
            #expect(try f.passwordFile().entries["pi-7"] == nil)
            #expect(try f.passwordFile().entries["hub"] != nil)
            await #expect(throws: HubStoreError.self) { try await f.fleet.decommission(device: "pi-7", by: HubFixture.bob) }
            await #expect(throws: HubStoreError.self) { try await f.fleet.decommission(device: "nope", by: HubFixture.bob) }

            let second = try await f.fleet.enroll(
                device: "pi-7", labels: ["site": "south"], profile: "raspberry-pi-4", by: HubFixture.alice)
            #expect(try !f.passwordFile().verify(first.password, for: "pi-7"))
            #expect(try f.passwordFile().verify(second.password, for: "pi-7"))
            try await f.fleet.setLabels(device: "pi-7", labels: ["site": "east"], by: HubFixture.bob)
            #expect(f.reloads.value == 4)

            let entries = try await f.hub.allAudit(AuditFilter(target: "device/pi-7"))
            #expect(entries.map(\.action) == [.deviceEnrolled, .deviceDecommissioned, .deviceEnrolled, .deviceLabelsSet])
            #expect(entries.map(\.subject) == ["alice", "bob", "alice", "bob"])
            #expect(entries[3].before?["labels"]?["site"] == .string("south"))
            #expect(entries[3].after?["labels"]?["site"] == .string("east"))
            // Audit rows never hold the password or its hash.
            for entry in entries {
                #expect(!entry.after.map(\.text).map { $0.contains("$7$") || $0.contains(second.password) }!)
            }
        }
    }

    @Test("groups are selectors: members, ACL sections and the bundle's device.groups follow labels")
    func groups() async throws {
        try await FleetFixture.with { f in
            try await f.fleet.setGroup(name: "north", selector: "site=north", by: HubFixture.alice)
            try await f.fleet.setGroup(name: "canary", selector: "site in (north,south), tier=canary", by: HubFixture.alice)
            await #expect(throws: FleetError.self) {
                try await f.fleet.setGroup(name: "bad/name", selector: "", by: HubFixture.alice)
            }
            await #expect(throws: FleetError.self) {
                try await f.fleet.setGroup(name: "bad", selector: "site in (", by: HubFixture.alice)
            }
            let bundle = try await f.fleet.enroll(
                device: "pi-7", labels: ["site": "north", "tier": "canary"], profile: "raspberry-pi-4", by: HubFixture.alice)
            #expect(bundle.agent.device.groups == ["canary", "north"])
            try await f.fleet.enroll(device: "pi-8", labels: ["site": "south"], profile: "raspberry-pi-4", by: HubFixture.alice)
            try await f.fleet.enroll(device: "pi-9", profile: "raspberry-pi-4", by: HubFixture.alice)

            #expect(try await f.fleet.members(ofGroup: "north", by: HubFixture.viewer).map(\.id) == ["pi-7"])
            #expect(try await f.fleet.members(ofGroup: "canary", by: HubFixture.viewer).map(\.id) == ["pi-7"])
            let notNorth = try LabelSelector(parsing: "site!=north")
            #expect(try await f.fleet.devices(matching: notNorth, by: HubFixture.viewer).map(\.id) == ["pi-8", "pi-9"])

            let acl = try f.aclText()
            #expect(acl.contains("user pi-7\ntopic read starling/v1/groups/canary/#\ntopic read starling/v1/groups/north/#\n"))
            #expect(!acl.contains("user pi-8"))
            #expect(acl.contains("user hub\ntopic readwrite starling/v1/#"))
            #expect(acl.contains("pattern write starling/v1/devices/%u/status"))

            try await f.fleet.setLabels(device: "pi-8", labels: ["site": "north"], by: HubFixture.alice)
            #expect(try f.aclText().contains("user pi-8\ntopic read starling/v1/groups/north/#"))
            try await f.fleet.removeGroup(name: "north", by: HubFixture.alice)
            #expect(try !f.aclText().contains("groups/north/"))
            await #expect(throws: FleetError.self) { try await f.fleet.removeGroup(name: "north", by: HubFixture.alice) }

            let actions = try await f.hub.allAudit(AuditFilter(target: "group")).map(\.action)
            #expect(actions == [.groupSet, .groupSet, .groupRemoved])
        }
    }

    @Test("the bundle: agent.json in the agent's documented shape, the password file, the trust ring")
    func bundleShape() async throws {
        try await FleetFixture.with { f in
            try await f.fleet.setGroup(name: "north", selector: "site=north", by: HubFixture.alice)
            let bundle = try await f.fleet.enroll(
                device: "pi-7", labels: ["site": "north"], profile: "raspberry-pi-4", by: HubFixture.alice)
            let agent = try JSONSerialization.jsonObject(with: Data(try bundle.agentJSON())) as! [String: Any]
            #expect(Set(agent.keys) == ["device", "dataDirectory", "profile", "trust", "mqtt"])
            let device = agent["device"] as! [String: Any]
            #expect(device["id"] as? String == "pi-7" && device["groups"] as? [String] == ["north"])
            #expect(agent["dataDirectory"] as? String == "/var/lib/starling")
            #expect((agent["profile"] as! [String: Any])["name"] as? String == "raspberry-pi-4")
            #expect((agent["trust"] as! [String: Any])["ringFile"] as? String == "/etc/starling/trust.json")
            let mqtt = agent["mqtt"] as! [String: Any]
            #expect(mqtt["host"] as? String == "broker.example.net" && mqtt["port"] as? Int == 8883)
            #expect(mqtt["username"] as? String == "pi-7" && mqtt["passwordFile"] as? String == "/etc/starling/mqtt-password")
            #expect((mqtt["tls"] as! [String: Any])["caFile"] as? String == "/etc/starling/ca.pem")

            let directory = f.hub.directory + "/bundle"
            try bundle.write(to: directory)
            #expect(try String(contentsOfFile: directory + "/mqtt-password", encoding: .utf8) == bundle.password)
            let mode = try FileManager.default.attributesOfItem(atPath: directory + "/mqtt-password")[.posixPermissions] as? Int
            #expect(mode == 0o600)
            let ring = try TrustRing.read(path: directory + "/trust.json")
            let key = try SigningKey.read(path: f.hub.services.configuration.signingKeyPath)
            #expect(ring.keys == [key.publicKey])

            // The device's own signing key: secret on the device, its public half on the hub.
            let deviceKey = try SigningKey.read(path: directory + "/device.key")
            let keyMode = try FileManager.default.attributesOfItem(atPath: directory + "/device.key")[.posixPermissions] as? Int
            #expect(keyMode == 0o600)
            let stored = try #require(try await f.hub.services.fleet.device(id: bundle.device, by: HubFixture.alice)?.signingKey)
            #expect(stored == PackageDigest.hex(deviceKey.privateKey.publicKey.rawRepresentation))
            #expect(bundle.agent.device.keyFile?.hasSuffix("/device.key") == true)

            let document = try JSONSerialization.jsonObject(with: Data(try bundle.document())) as! [String: Any]
            #expect(Set(document.keys) == ["agent.json", "mqtt-password", "trust.json", "device.key"])
            #expect(document["mqtt-password"] as? String == bundle.password)
        }
    }

    @Test("rendering refuses a device named like a hub account; pid-file reload errors name the file")
    func renderingAndReloadErrors() throws {
        let device = Device(id: "hub", labels: [:], profile: "p", state: .enrolled, enrolledAt: 1, enrolledBy: "a")
        #expect(throws: FleetError.self) {
            try BrokerAccounts.render(
                credentials: [(device, DeviceCredential(device: "hub", passwordHash: MosquittoPasswordFile.hash("x")))],
                groups: [], hubAccounts: ["hub": MosquittoPasswordFile.hash("y")])
        }
        #expect {
            try BrokerReload.pidFile("/nonexistent/mosquitto.pid").perform()
        } throws: { ($0 as? FleetError)?.code == .brokerReloadFailed }
    }
}
