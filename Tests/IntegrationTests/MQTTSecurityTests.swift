import Core
import Testing

@testable import TransportMQTT

/// The fleet's broker set-up end to end: TLS listener, Swift-written password file, generated
/// ACL (devices on their own topics, groups, a hub account with shared subscriptions).
@Suite("broker security: TLS, passwords, ACL", .serialized)
struct MQTTSecurityTests {
    static let patience = MQTTTransportTests.harness
    static let accounts = ["hub": "hub-secret", "dev-a": "a-secret", "dev-b": "b-secret"]
    static let fleet = TestBroker.Options(
        anonymous: false, accounts: accounts, acl: MosquittoACL(groups: ["dev-a": ["canary"]]), tls: true)

    static func device(_ id: String) -> String { "starling/v1/devices/\(id)" }

    static func connect(_ broker: TestBroker, _ clientID: String, user: String, password: String? = nil) async throws
        -> (MQTTTransport, Collector<Message>)
    {
        let transport = try broker.transport(
            broker.clientConfiguration(clientID, username: user, password: password ?? accounts[user], tls: true))
        let inbox = Collector.draining(transport.messages)
        try await transport.connect()
        return (transport, inbox)
    }

    static func publish(_ transport: MQTTTransport, _ topic: String, _ text: String) async -> TransportError.Code? {
        await errorCode { () async throws(TransportError) in
            try await transport.publish(Message(topic: topic, payload: Array(text.utf8)))
        }
    }

    @Test("a device cannot publish to another device's topics, nor to its own hub-to-device topics")
    func publishIsolation() async throws {
        try await withBroker(Self.fleet) { broker in
            let (hub, hubInbox) = try await Self.connect(broker, "hub-1", user: "hub")
            try await hub.subscribe("starling/v1/devices/#", qos: .atLeastOnce)
            let (a, _) = try await Self.connect(broker, "dev-a", user: "dev-a")
            #expect(await Self.publish(a, "\(Self.device("dev-b"))/telemetry", "forged") == .notAuthorized)
            #expect(await Self.publish(a, "\(Self.device("dev-a"))/assignment", "self-assigned") == .notAuthorized)
            #expect(await Self.publish(a, "starling/v1/groups/canary/broadcast", "spoof") == .notAuthorized)
            #expect(await Self.publish(a, "\(Self.device("dev-a"))/telemetry", "mine") == nil)
            let got = try await hubInbox.next(Self.patience)
            #expect(got.topic == "\(Self.device("dev-a"))/telemetry", "the forged messages never reached the hub")
        }
    }

    @Test("a device never receives another device's topics or a group it is not in; SIGHUP applies a new ACL")
    func subscribeIsolation() async throws {
        try await withBroker(Self.fleet) { broker in
            let (hub, _) = try await Self.connect(broker, "hub-1", user: "hub")
            let (a, aInbox) = try await Self.connect(broker, "dev-a", user: "dev-a")
            let (b, bInbox) = try await Self.connect(broker, "dev-b", user: "dev-b")
            // Mosquitto 2.0.11 accepts any SUBSCRIBE and applies the read ACL to each delivery
            // (a broker that refuses in SUBACK makes subscribe throw .notAuthorized instead).
            for (transport, filter) in [(a, "\(Self.device("dev-b"))/assignment"), (b, "starling/v1/groups/canary/#")] {
                let code = await errorCode { () async throws(TransportError) in try await transport.subscribe(filter, qos: .atLeastOnce) }
                #expect(code == nil || code == .notAuthorized)
            }
            try await a.subscribe("\(Self.device("dev-a"))/assignment", qos: .atLeastOnce)
            try await a.subscribe("\(Self.device("dev-a"))/chunks/#", qos: .atLeastOnce)
            try await a.subscribe("starling/v1/groups/canary/#", qos: .atLeastOnce)
            try await a.subscribe("starling/v1/models/+/manifest", qos: .atLeastOnce)
            try await b.subscribe("\(Self.device("dev-b"))/assignment", qos: .atLeastOnce)

            for (topic, text) in [
                ("\(Self.device("dev-b"))/assignment", "for b"), ("\(Self.device("dev-a"))/chunks/s1", "chunk"),
                ("starling/v1/groups/canary/broadcast", "canary"), ("starling/v1/models/digits/manifest", "manifest"),
                ("\(Self.device("dev-a"))/assignment", "for a"), ("\(Self.device("dev-b"))/assignment", "marker b"),
            ] {
                #expect(await Self.publish(hub, topic, text) == nil)
            }
            let aGot = try await aInbox.take(4, Self.patience).map { String(decoding: $0.payload, as: UTF8.self) }
            #expect(aGot == ["chunk", "canary", "manifest", "for a"], "dev-a never sees dev-b's assignment")
            let bGot = try await bInbox.take(2, Self.patience).map { String(decoding: $0.payload, as: UTF8.self) }
            #expect(bGot == ["for b", "marker b"], "dev-b never sees the canary group it is not in")

            // dev-b joins the canary group: the hub rewrites the ACL and sends SIGHUP.
            try broker.writeFiles(passwords: Self.accounts, acl: MosquittoACL(groups: ["dev-a": ["canary"], "dev-b": ["canary"]]))
            broker.reload()
            try await Task.sleep(for: .milliseconds(300))
            // Existing subscriptions follow the reloaded ACL.
            #expect(await Self.publish(hub, "starling/v1/groups/canary/broadcast", "canary 2") == nil)
            #expect(String(decoding: try await bInbox.next(Self.patience).payload, as: UTF8.self) == "canary 2")
        }
    }

    @Test("wrong, unknown or missing credentials are .notAuthorized; an account added at run time works after SIGHUP")
    func credentials() async throws {
        try await withBroker(Self.fleet) { broker in
            for (user, password) in [("dev-a", "wrong"), ("nobody", "x"), (nil, nil)] as [(String?, String?)] {
                let transport = try broker.transport(broker.clientConfiguration("c-\(user ?? "anon")", username: user, password: password, tls: true))
                #expect(await errorCode { () async throws(TransportError) in try await transport.connect() } == .notAuthorized, "\(user ?? "anonymous")")
                await transport.close()
            }
            var accounts = Self.accounts
            accounts["dev-new"] = "new-secret"
            try broker.writeFiles(passwords: accounts, acl: MosquittoACL())
            broker.reload()
            let newcomer = try broker.transport(broker.clientConfiguration("dev-new", username: "dev-new", password: "new-secret", tls: true))
            #expect(await eventually { await errorCode { () async throws(TransportError) in try await newcomer.connect() } == nil })
            #expect(await Self.publish(newcomer, "\(Self.device("dev-new"))/status", "online") == nil)
        }
    }

    @Test("two hub replicas on $share/hub/... split the devices' messages, each delivered once")
    func sharedSubscription() async throws {
        try await withBroker(Self.fleet) { broker in
            let hubs = [try await Self.connect(broker, "hub-1", user: "hub"), try await Self.connect(broker, "hub-2", user: "hub")]
            for (hub, _) in hubs {
                try await hub.subscribe("$share/hub/starling/v1/devices/+/telemetry", qos: .atLeastOnce)
            }
            let (a, _) = try await Self.connect(broker, "dev-a", user: "dev-a")
            try await MQTTTransportTests.publishConcurrently(a, topic: "\(Self.device("dev-a"))/telemetry", count: 400)
            #expect(await eventually { await hubs[0].1.pending + hubs[1].1.pending >= 400 })
            try await Task.sleep(for: .milliseconds(100))
            let first = try await hubs[0].1.take(hubs[0].1.pending, Self.patience).map(MQTTTransportTests.index)
            let second = try await hubs[1].1.take(hubs[1].1.pending, Self.patience).map(MQTTTransportTests.index)
            #expect(first.count + second.count == 400)
            #expect(Set(first + second) == Set(0..<400))
            #expect(!first.isEmpty && !second.isEmpty, "split \(first.count)/\(second.count)")
        }
    }

    @Test("a shared subscription of a persistent session still receives after a broker restart")
    func sharedSubscriptionAfterRestart() async throws {
        try await withBroker(Self.fleet) { broker in
            // Keepalive 5 s: over TLS a vanished broker is noticed at the next ping.
            var configuration = broker.clientConfiguration("hub-1", username: "hub", password: Self.accounts["hub"], tls: true)
            configuration.keepAlive = .seconds(5)
            let hub = try broker.transport(configuration)
            let inbox = Collector.draining(hub.messages)
            try await hub.connect()
            try await hub.subscribe("$share/hub/starling/v1/devices/+/telemetry", qos: .atLeastOnce)
            try broker.restart()
            #expect(await eventually(timeout: .seconds(30)) { hub.statistics.connections >= 2 })
            let (device, _) = try await Self.connect(broker, "dev-a", user: "dev-a")
            try await MQTTTransportTests.publishConcurrently(device, topic: "\(Self.device("dev-a"))/telemetry", count: 50)
            let received = try await inbox.take(50, Self.patience).map(MQTTTransportTests.index)
            #expect(Set(received) == Set(0..<50))
        }
    }

    @Test("TLS: a client that trusts another CA, or speaks plain TCP to the TLS port, cannot connect")
    func tlsTrust() async throws {
        try await withBroker(Self.fleet) { broker in
            var wrongCA = broker.clientConfiguration("x", username: "dev-a", password: "a-secret", tls: true)
            wrongCA.tls = .init(caFile: broker.certificates!.otherCAFile)
            let distrustful = try broker.transport(wrongCA)
            #expect(await errorCode { () async throws(TransportError) in try await distrustful.connect() } == .connectionFailed)
            var plain = broker.clientConfiguration("y", username: "dev-a", password: "a-secret")
            plain.port = broker.tlsPort!
            let plainTransport = try broker.transport(plain)
            #expect(await errorCode { () async throws(TransportError) in try await plainTransport.connect() } == .connectionFailed)
        }
    }

    @Test("a listener that requires client certificates refuses clients without one")
    func clientCertificates() async throws {
        var options = Self.fleet
        options.requireClientCertificate = true
        try await withBroker(options) { broker in
            let anonymous = try broker.transport(broker.clientConfiguration("dev-a", username: "dev-a", password: "a-secret", tls: true))
            #expect(await errorCode { () async throws(TransportError) in try await anonymous.connect() } == .connectionFailed)
            var config = broker.clientConfiguration("dev-a", username: "dev-a", password: "a-secret", tls: true)
            config.tls?.certificateFile = broker.certificates!.clientCertificate
            config.tls?.keyFile = broker.certificates!.clientKey
            let identified = try broker.transport(config)
            try await identified.connect()
            #expect(await Self.publish(identified, "\(Self.device("dev-a"))/status", "online") == nil)
        }
    }
}
