import Core
import Testing

/// MQTT 5 topic filter validation and matching, with the examples of the specification
/// (OASIS MQTT 5.0, section 4.7) and the edge cases around `$` topics and shared subscriptions.
@Suite struct TopicFilterTests {
    @Test(arguments: [
        // Multi-level wildcard.
        ("sport/tennis/player1/#", "sport/tennis/player1", true),
        ("sport/tennis/player1/#", "sport/tennis/player1/ranking", true),
        ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true),
        ("sport/#", "sport", true),
        ("#", "sport/tennis", true),
        ("#", "/", true),
        ("sport/tennis/#", "sport/tennisplayer", false),
        // Single-level wildcard.
        ("sport/tennis/+", "sport/tennis/player1", true),
        ("sport/tennis/+", "sport/tennis/player1/ranking", false),
        ("sport/+", "sport", false),
        ("sport/+", "sport/", true),
        ("+/+", "/finance", true),
        ("/+", "/finance", true),
        ("+", "/finance", false),
        ("+/tennis/#", "sport/tennis/player1", true),
        ("sport/+/player1", "sport/tennis/player1", true),
        ("+", "", false),
        // Exact and case-sensitive.
        ("a/b", "a/b", true),
        ("a/b", "a/B", false),
        ("a/b", "a/b/", false),
        ("a//b", "a//b", true),
        ("a/+/b", "a//b", true),
        // `$` topics are not matched by a leading wildcard.
        ("#", "$SYS/broker/load", false),
        ("+/broker/load", "$SYS/broker/load", false),
        ("$SYS/#", "$SYS/broker/load", true),
        ("$SYS/+/load", "$SYS/broker/load", true),
        ("a/#", "a/$b", true),
        // Shared subscriptions match like their filter.
        ("$share/hub/starling/v1/devices/+/telemetry", "starling/v1/devices/pi-7/telemetry", true),
        ("$share/hub/#", "starling/v1/devices/pi-7/telemetry", true),
        ("$share/hub/#", "$SYS/x", false),
        // Invalid filters match nothing.
        ("sport/tennis#", "sport/tennis#", false),
        ("sport+", "sport+", false),
        ("", "a", false),
    ])
    func matching(filter: String, topic: String, expected: Bool) {
        #expect(TopicFilter.matches(filter, topic: topic) == expected, "'\(filter)' vs '\(topic)'")
    }

    @Test(arguments: [
        "#", "+", "a/#", "a/+/b", "+/+", "/", "a//b", "$SYS/#", "$share/hub/a/#", "$share/g/+", "a b/c",
    ])
    func validFilters(filter: String) throws {
        try TopicFilter.validate(filter)
    }

    @Test(arguments: [
        "", "a/#/b", "a#", "#/", "a/b#", "a+", "+a/b", "a/++", "a/\u{0}", "$share/hub", "$share//a", "$share/h+/a",
        "$share/hub/", "$share/#/a",
    ])
    func invalidFilters(filter: String) {
        #expect(throws: ProtocolError.self) { try TopicFilter.validate(filter) }
    }

    @Test func sharedSubscriptionParts() throws {
        let parts = try TopicFilter.validate("$share/hub/starling/v1/devices/+/fetch")
        #expect(parts.shareGroup == "hub")
        #expect(parts.filter == "starling/v1/devices/+/fetch")
        #expect(TopicFilter.split("a/b") == TopicFilter.Parts(shareGroup: nil, filter: "a/b"))
    }

    @Test func topicNames() throws {
        try TopicFilter.validateTopicName("a/b")
        try TopicFilter.validateTopicName("/")
        for bad in ["", "a/+", "a/#", "a\u{0}b", String(repeating: "a", count: 65_536)] {
            #expect(throws: ProtocolError.self) { try TopicFilter.validateTopicName(bad) }
        }
    }

    @Test func lengthLimitCountsUTF8Bytes() throws {
        let long = String(repeating: "é", count: 32_768)  // 65,536 bytes
        #expect(throws: ProtocolError.self) { try TopicFilter.validate(long) }
        try TopicFilter.validate(String(repeating: "é", count: 32_767))
    }
}
