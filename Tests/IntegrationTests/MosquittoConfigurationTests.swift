import Core
import Testing

@testable import TransportMQTT

/// The generated broker files: password hashes Mosquitto accepts, an ACL that matches the
/// protocol's topics, and a `mosquitto.conf` with the fleet's limits. (Mosquitto itself loads
/// them in the security and limits tests.)
@Suite("Mosquitto configuration generator")
struct MosquittoConfigurationTests {
    @Test("password hashes are PBKDF2-HMAC-SHA512 in Mosquitto's $7$ format (reference vectors)")
    func passwordVectors() {
        let salt: [UInt8] = Array(0..<12)
        #expect(
            MosquittoPasswordFile.hash("secret", salt: salt)
                == "$7$101$AAECAwQFBgcICQoL$Xr99N9ym9ys8TWxis5ajETJq6EVYzmc6nb8t3pUYnPBbCAbICS4xejTltonXWCtJNBvA+By+TXUqU6qCblO00w==")
        let key = MosquittoPasswordFile.pbkdf2SHA512(password: Array("päss".utf8), salt: Array("NaCl-salt-12".utf8), iterations: 1000)
        #expect(Base64.encode(key) == "lTcWttoWGnbXCRB0bDYPVcbdnNOiQOlNo4X7iyKK9y4bhi9c3MxZPeeMjH90inWcQYhucrtnVKiRPej1mMjGYA==")
        #expect(Base64.decode(Base64.encode([1, 2, 3, 4, 5])) == [1, 2, 3, 4, 5])
        #expect(Base64.decode("abc") == nil)
    }

    @Test("a file written by mosquitto_passwd verifies here, and ours round-trips")
    func passwordFileInterop() throws {
        let directory = try makeTemporaryDirectory("starling-passwd")
        defer { removeTree(directory) }
        try runCommand(["mosquitto_passwd", "-c", "-b", "\(directory)/pw", "dev-1", "s3cret"])
        let theirs = try MosquittoPasswordFile(parsing: readText("\(directory)/pw") ?? "")
        #expect(theirs.verify("s3cret", for: "dev-1"))
        #expect(!theirs.verify("wrong", for: "dev-1"))
        #expect(!theirs.verify("s3cret", for: "dev-2"))

        var ours = MosquittoPasswordFile()
        try ours.setPassword("one", for: "a")
        try ours.setPassword("two", for: "b", iterations: 1000)
        let reparsed = try MosquittoPasswordFile(parsing: "# comment\n" + ours.render())
        #expect(reparsed == ours && reparsed.verify("two", for: "b"))
        try ours.write(to: "\(directory)/ours")
        #expect(try MosquittoPasswordFile(contentsOf: "\(directory)/ours") == ours)
        #expect(ours.removeUser("a") && !ours.removeUser("a"))
        #expect(throws: MosquittoError.self) { try ours.setPassword("x", for: "bad:name") }
        #expect(throws: MosquittoError.self) { try MosquittoPasswordFile(parsing: "no colon here\n") }
    }

    @Test("the ACL text (golden)")
    func aclGolden() throws {
        let acl = MosquittoACL(groups: ["pi-2": ["canary", "eu"], "pi-1": [], "pi-3": ["eu"]])
        #expect(
            try acl.render() == """
                # Starling broker ACL, generated: change the fleet registry, not this file.

                # Hub accounts: all of starling/v1 (shared subscriptions are checked against the topic).
                user hub
                topic readwrite starling/v1/#

                # Group memberships: a device reads its groups' topics.
                user pi-2
                topic read starling/v1/groups/canary/#
                topic read starling/v1/groups/eu/#
                user pi-3
                topic read starling/v1/groups/eu/#

                # Every device (user name = device id) on its own topics.
                pattern write starling/v1/devices/%u/status
                pattern write starling/v1/devices/%u/telemetry
                pattern write starling/v1/devices/%u/events
                pattern write starling/v1/devices/%u/feedback
                pattern write starling/v1/devices/%u/drift
                pattern write starling/v1/devices/%u/fl/update
                pattern write starling/v1/devices/%u/fetch
                pattern read starling/v1/devices/%u/assignment
                pattern read starling/v1/devices/%u/chunks/#
                pattern read starling/v1/devices/%u/fl/task
                pattern read starling/v1/models/+/manifest

                """)
        for bad in ["a/b", "+", "#", "", "$SYS", "a b", "x:y"] {
            #expect(throws: MosquittoError.self) { try MosquittoACL(groups: [bad: ["g"]]).render() }
            #expect(throws: MosquittoError.self) { try MosquittoACL(groups: ["d": [bad]]).render() }
        }
    }

    /// The rules of `acl` with `access` for `device`, `%u` substituted.
    static func rules(_ acl: MosquittoACL, _ access: String, for device: String) throws -> [String] {
        try acl.render().split(separator: "\n").compactMap { line -> String? in
            let parts = line.split(separator: " ")
            guard parts.count == 3, parts[0] == "pattern", parts[1] == access else { return nil }
            return parts[2].replacingOccurrences(of: "%u", with: device)
        }
    }

    @Test("the ACL grants exactly the protocol's directions: devices write device-to-hub topics, read hub-to-device ones")
    func aclMatchesProtocol() throws {
        let acl = MosquittoACL()
        let me = try DeviceID("pi-7")
        let other = try DeviceID("pi-8")
        let writes = try Self.rules(acl, "write", for: me.rawValue)
        let reads = try Self.rules(acl, "read", for: me.rawValue)
        let topics: [Topic] = [
            .status(me), .telemetry(me), .events(me), .feedback(me), .drift(me), .flUpdate(me), .fetch(me),
            .assignment(me), .chunks(me), .flTask(me),
        ]
        for topic in topics {
            let writable = writes.contains { TopicFilter.matches($0, topic: topic.name) }
            let readable = reads.contains { TopicFilter.matches($0, topic: topic.name) }
            #expect(writable == (topic.kind.direction == .deviceToHub), "write \(topic.name)")
            #expect(readable == (topic.kind.direction == .hubToDevice), "read \(topic.name)")
        }
        #expect(reads.contains { TopicFilter.matches($0, topic: Topic.chunks(me).name + "/stream-1") })
        let manifest = Topic.modelManifest(try ModelName("digits")).name
        #expect(reads.contains { TopicFilter.matches($0, topic: manifest) })
        for topic in [Topic.telemetry(other), .assignment(other), .groupBroadcast(try GroupID("eu"))] {
            #expect(!(writes + reads).contains { TopicFilter.matches($0, topic: topic.name) }, "\(topic.name)")
        }
        // What a device subscribes to is covered by its read rules.
        for subscription in Subscription.device(me) {
            #expect(reads.contains(subscription.filter), "\(subscription.filter)")
        }
    }

    @Test("mosquitto.conf (golden) and values that would break its format")
    func configurationGolden() throws {
        let config = MosquittoConfiguration(
            listeners: [
                .loopback(port: 1883),
                .init(port: 8883, tls: .init(caFile: "/etc/starling/ca.crt", certificateFile: "/etc/starling/broker.crt", keyFile: "/etc/starling/broker.key")),
            ],
            passwordFile: "/etc/starling/passwords", aclFile: "/etc/starling/acl", persistenceLocation: "/var/lib/starling/broker")
        #expect(
            try config.render() == """
                # Starling broker configuration, generated (TransportMQTT.MosquittoConfiguration).

                per_listener_settings false
                allow_anonymous false
                password_file /etc/starling/passwords
                acl_file /etc/starling/acl

                persistence true
                persistence_location /var/lib/starling/broker/
                autosave_interval 60
                persistent_client_expiration 30d
                max_inflight_messages 1000
                max_queued_messages 0
                max_queued_bytes 67108864
                message_size_limit 16777216
                set_tcp_nodelay true

                log_dest stderr
                log_type error
                log_type warning
                log_type notice
                log_type information
                log_timestamp_format %Y-%m-%dT%H:%M:%S

                listener 1883 127.0.0.1
                protocol mqtt

                listener 8883
                protocol mqtt
                cafile /etc/starling/ca.crt
                certfile /etc/starling/broker.crt
                keyfile /etc/starling/broker.key
                require_certificate false
                tls_version tlsv1.2

                """)
        var injected = config
        injected.passwordFile = "/tmp/x\nallow_anonymous true"
        #expect(throws: MosquittoError.self) { try injected.render() }
        var open = config
        open.passwordFile = nil
        #expect(throws: MosquittoError.self) { try open.render() }
        #expect(throws: MosquittoError.self) { try MosquittoConfiguration(listeners: [], allowAnonymous: true).render() }
    }
}
