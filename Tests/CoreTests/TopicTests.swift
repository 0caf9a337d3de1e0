import Core
import Testing

/// Topic builders, the parser, identifier rules, the delivery table and subscription builders.
@Suite struct TopicTests {
    static let device = try! DeviceID("pi-7")
    static let group = try! GroupID("lyon")
    static let model = try! ModelName("digits")

    static let all: [(Topic, String)] = [
        (.status(device), "starling/v1/devices/pi-7/status"),
        (.telemetry(device), "starling/v1/devices/pi-7/telemetry"),
        (.events(device), "starling/v1/devices/pi-7/events"),
        (.feedback(device), "starling/v1/devices/pi-7/feedback"),
        (.drift(device), "starling/v1/devices/pi-7/drift"),
        (.flUpdate(device), "starling/v1/devices/pi-7/fl/update"),
        (.fetch(device), "starling/v1/devices/pi-7/fetch"),
        (.assignment(device), "starling/v1/devices/pi-7/assignment"),
        (.chunks(device), "starling/v1/devices/pi-7/chunks"),
        (.flTask(device), "starling/v1/devices/pi-7/fl/task"),
        (.groupBroadcast(group), "starling/v1/groups/lyon/broadcast"),
        (.groupFLTask(group), "starling/v1/groups/lyon/fl/task"),
        (.modelManifest(model), "starling/v1/models/digits/manifest"),
    ]

    @Test func buildAndParseEveryKind() throws {
        #expect(Set(Self.all.map(\.0.kind)) == Set(Topic.Kind.allCases))
        for (topic, name) in Self.all {
            #expect(topic.name == name)
            #expect(try Topic(parsing: name) == topic)
            try TopicFilter.validateTopicName(name)
        }
    }

    @Test func chunkReplySubTopicsParseAsTheDevicesChunks() throws {
        #expect(try Topic(parsing: "starling/v1/devices/pi-7/chunks/transfer-1") == .chunks(Self.device))
        let error = #expect(throws: ProtocolError.self) { try Topic(parsing: "starling/v1/devices/pi-7/chunks/a/b") }
        #expect(error?.code == .invalidTopic)
    }

    @Test(arguments: [
        ("", "is empty"), ("a/b", "'/'"), ("a+", "wildcard"), ("#", "wildcard"), ("a\u{0}b", "NUL"),
        ("$SYS", "'$'"), ("tab\tid", "control"), ("caf\u{e9}", "non-ASCII"), ("a b", "' '"), ("..", "reserved"),
        (".", "reserved"), (String(repeating: "x", count: 129), "limit is 128"),
    ])
    func badIdentifiersAreRefused(raw: String, why: String) {
        do {
            _ = try DeviceID(raw)
            Issue.record("'\(raw)' was accepted")
        } catch {
            #expect(error.code == .invalidIdentifier)
            #expect(error.message.contains(why), "\(error.message)")
        }
        #expect(DeviceID(rawValue: raw) == nil)
    }

    @Test func goodIdentifiers() throws {
        for raw in ["a", "pi-7", "Gateway_01.lab:3", String(repeating: "z", count: 128)] {
            #expect(try DeviceID(raw).rawValue == raw)
            #expect(try GroupID(raw).description == raw)
        }
    }

    @Test func controlCharactersAreEscapedInErrors() {
        let error = #expect(throws: ProtocolError.self) { try DeviceID("evil\nline") }
        #expect(error?.message.contains("\n") == false)
        #expect(error?.message.contains("\\u{a}") == true)
    }

    @Test(arguments: [
        "starling/v1/devices/pi-7", "starling/v1/devices/pi-7/unknown", "starling/v1/devices/pi-7/fl",
        "starling/v1/robots/pi-7/status", "other/v1/devices/pi-7/status", "starling/v1/groups/g/assignment",
        "starling/v1/models/m/manifest/extra", "starling", "",
    ])
    func unknownTopicsAreRefused(name: String) {
        let error = #expect(throws: ProtocolError.self) { try Topic(parsing: name) }
        #expect(error?.code == .invalidTopic)
    }

    @Test func newerTopicVersionIsNamed() {
        let error = #expect(throws: ProtocolError.self) { try Topic(parsing: "starling/v2/devices/pi-7/status") }
        #expect(error?.code == .invalidTopic)
        #expect(error?.message.contains("v2") == true)
    }

    @Test func badIdInTopicIsAnIdentifierError() {
        let error = #expect(throws: ProtocolError.self) { try Topic(parsing: "starling/v1/devices/$bad/status") }
        #expect(error?.code == .invalidIdentifier)
    }

    @Test func deliveryTable() {
        for kind in Topic.Kind.allCases { #expect(kind.qos == .atLeastOnce) }
        let retained = Topic.Kind.allCases.filter(\.retained)
        #expect(Set(retained) == [.status, .assignment, .groupFLTask, .modelManifest])
        #expect(Topic.Kind.fetch.direction == .deviceToHub)
        #expect(Topic.Kind.chunks.direction == .hubToDevice)
        #expect(Topic.Kind.chunks.payload == .binary && Topic.Kind.flUpdate.payload == .binary)
        let message = Topic.status(Self.device).message([1])
        #expect(message.retain && message.qos == .atLeastOnce && message.topic == "starling/v1/devices/pi-7/status")
        let clear = Topic.assignment(Self.device).clearingMessage
        #expect(clear.retain && clear.payload.isEmpty)
    }

    @Test func hubSubscriptions() throws {
        let filters = try Subscription.hub().map(\.filter)
        #expect(
            filters == [
                "starling/v1/devices/+/status",
                "$share/hub/starling/v1/devices/+/telemetry",
                "$share/hub/starling/v1/devices/+/events",
                "$share/hub/starling/v1/devices/+/feedback",
                "$share/hub/starling/v1/devices/+/drift",
                "$share/hub/starling/v1/devices/+/fl/update",
                "$share/hub/starling/v1/devices/+/fetch",
            ])
        for filter in filters { try TopicFilter.validate(filter) }
        #expect(try Subscription.hub(shareGroup: nil).allSatisfy { !$0.filter.hasPrefix("$share") })
        #expect(throws: ProtocolError.self) { try Subscription.hub(shareGroup: "a/b") }
        // Every device → hub kind is covered, and nothing the hub itself publishes.
        for (topic, name) in Self.all {
            let hit = filters.contains { TopicFilter.matches($0, topic: name) }
            #expect(hit == (topic.kind.direction == .deviceToHub), "\(name)")
        }
    }

    @Test func deviceSubscriptions() throws {
        let filters = Subscription.device(Self.device, groups: [Self.group]).map(\.filter)
        for filter in filters { try TopicFilter.validate(filter) }
        for (topic, name) in Self.all {
            let hit = filters.contains { TopicFilter.matches($0, topic: name) }
            let expected = topic.kind.direction == .hubToDevice && topic.kind != .modelManifest
            #expect(hit == expected, "\(name)")
        }
        #expect(filters.contains { TopicFilter.matches($0, topic: "starling/v1/devices/pi-7/chunks/t1") })
        #expect(!filters.contains { TopicFilter.matches($0, topic: "starling/v1/devices/pi-8/assignment") })
        #expect(!filters.contains { TopicFilter.matches($0, topic: "starling/v1/groups/other/broadcast") })
    }
}
