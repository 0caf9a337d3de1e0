import Core
import Foundation
import Testing

/// Decoding hostile or future control messages: every failure is a `ProtocolError` with the
/// right code and the field named; unknown fields are ignored; a newer `v` is refused.
@Suite struct ProtocolCodecTests {
    /// The sample's JSON as a mutable dictionary.
    func object<M: ControlMessage>(_ sample: M) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(MessageCodec.encode(sample))) as! [String: Any]
    }

    func bytes(_ object: Any) throws -> [UInt8] {
        Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }

    func decodeError<M: ControlMessage>(_ type: M.Type, _ payload: [UInt8]) -> ProtocolError? {
        do {
            _ = try MessageCodec.decode(type, from: payload)
            return nil
        } catch {
            return error
        }
    }

    @Test func unknownFieldsAreIgnored() throws {
        var json = try object(ProtocolSamples.telemetry)
        json["gpuPercent"] = 3
        json["future"] = ["nested": [1, 2, 3]]
        #expect(try MessageCodec.decode(Telemetry.self, from: bytes(json)) == ProtocolSamples.telemetry)
    }

    @Test func newerVersionIsRefusedWithAnUpgradeHint() throws {
        var json = try object(ProtocolSamples.status)
        json["v"] = 2
        let error = try #require(decodeError(DeviceStatus.self, try bytes(json)))
        #expect(error.code == .unsupportedVersion)
        #expect(error.message.contains("v2") && error.message.contains("upgrade"))
        #expect(try MessageCodec.version(of: bytes(json)) == 2)
    }

    @Test func versionMustBePresentAndPositive() throws {
        var json = try object(ProtocolSamples.status)
        json["v"] = nil
        #expect(decodeError(DeviceStatus.self, try bytes(json))?.code == .missingField)
        json["v"] = 0
        #expect(decodeError(DeviceStatus.self, try bytes(json))?.code == .invalidValue)
        json["v"] = "1"
        #expect(decodeError(DeviceStatus.self, try bytes(json))?.code == .wrongType)
    }

    @Test(arguments: ["", "{", "[1,2]", "null", "42", "\"status\"", "{\"v\":1 \"id\":\"x\"}", "\u{FF}\u{FE}"])
    func malformedPayloads(text: String) {
        let error = decodeError(DeviceStatus.self, Array(text.utf8))
        #expect(error?.code == .malformed, "\(String(describing: error))")
    }

    @Test func invalidUTF8IsMalformed() {
        #expect(decodeError(DeviceStatus.self, [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D])?.code == .malformed)
    }

    @Test func missingFieldIsNamed() throws {
        var json = try object(ProtocolSamples.status)
        json["agentVersion"] = nil
        let error = try #require(decodeError(DeviceStatus.self, try bytes(json)))
        #expect(error.code == .missingField)
        #expect(error.message.contains("'agentVersion'"))
    }

    @Test func nestedMissingFieldHasItsPath() throws {
        var json = try object(ProtocolSamples.feedback)
        var rows = json["rows"] as! [[String: Any]]
        rows[1]["label"] = nil
        json["rows"] = rows
        let error = try #require(decodeError(FeedbackBatch.self, try bytes(json)))
        #expect(error.code == .missingField)
        #expect(error.message.contains("rows[1].label"), "\(error.message)")
    }

    @Test func wrongTypesAreNamed() throws {
        var json = try object(ProtocolSamples.telemetry)
        json["predictions"] = "many"
        let error = try #require(decodeError(Telemetry.self, try bytes(json)))
        #expect(error.code == .wrongType)
        #expect(error.message.contains("'predictions'") && error.message.contains("integer"))
        json["predictions"] = NSNull()
        #expect(decodeError(Telemetry.self, try bytes(json))?.code == .wrongType)
        json["predictions"] = 2.5
        #expect(decodeError(Telemetry.self, try bytes(json)) != nil)
    }

    @Test func unknownClosedEnumValueIsRefused() throws {
        var json = try object(ProtocolSamples.status)
        json["state"] = "sleeping"
        #expect(decodeError(DeviceStatus.self, try bytes(json))?.code == .invalidValue)
    }

    @Test func openValuesAreKept() throws {
        var json = try object(ProtocolSamples.event)
        json["kind"] = "thermal"
        json["error"] = "overheated"
        let event = try MessageCodec.decode(DeviceEvent.self, from: bytes(json))
        #expect(event.kind.rawValue == "thermal" && event.error?.rawValue == "overheated")
    }

    @Test func oversizedPayloadIsRefusedBeforeParsing() throws {
        let big = [UInt8](repeating: UInt8(ascii: " "), count: MessageCodec.maxMessageBytes + 1)
        #expect(decodeError(DeviceStatus.self, big)?.code == .tooLarge)
        let fixture = try MessageCodec.encode(ProtocolSamples.status)
        #expect(throws: ProtocolError.self) { try MessageCodec.decode(DeviceStatus.self, from: fixture, maxBytes: 10) }
    }

    @Test func invalidValuesAreRefused() throws {
        func refused<M: ControlMessage>(_ sample: M, _ key: String, _ value: Any, _ code: ProtocolError.Code = .invalidValue)
            throws
        {
            var json = try object(sample)
            json[key] = value
            let error = decodeError(M.self, try bytes(json))
            #expect(error?.code == code, "\(key) = \(value): \(String(describing: error))")
        }
        try refused(ProtocolSamples.telemetry, "errorRate", 1.5)
        try refused(ProtocolSamples.telemetry, "predictions", -1)
        try refused(ProtocolSamples.telemetry, "windowMs", 0)
        try refused(ProtocolSamples.status, "modelName", "a/b", .invalidIdentifier)
        try refused(ProtocolSamples.status, "id", "", .invalidIdentifier)
        try refused(ProtocolSamples.status, "id", "id#1", .invalidIdentifier)
        try refused(ProtocolSamples.status, "time", -5)
        try refused(ProtocolSamples.status, "reason", "line\nbreak")
        try refused(ProtocolSamples.fetch, "packageId", "ABCD")
        try refused(ProtocolSamples.fetch, "chunks", [1, 1])
        try refused(ProtocolSamples.fetch, "chunks", [-1])
        try refused(ProtocolSamples.fetch, "replyTopic", "starling/v1/+/x", .invalidTopic)
        try refused(ProtocolSamples.drift, "windowEnd", 0)
        try refused(ProtocolSamples.flTask, "learningRate", 0)
        try refused(ProtocolSamples.flTask, "deadline", 0)
        try refused(ProtocolSamples.broadcast, "expiresAt", 0)
        try refused(ProtocolSamples.feedback, "rows", [[String: Any]]())
    }

    @Test func nestedIdentifierErrorsNameTheField() throws {
        var json = try object(ProtocolSamples.status)
        json["modelName"] = "bad/name"
        let error = try #require(decodeError(DeviceStatus.self, try bytes(json)))
        #expect(error.code == .invalidIdentifier)
        #expect(error.message.contains("modelName"), "\(error.message)")
    }

    @Test func encodingRefusesInvalidMessages() {
        var telemetry = ProtocolSamples.telemetry
        telemetry.latencyP95Ms = .nan
        #expect(throws: ProtocolError.self) { try MessageCodec.encode(telemetry) }
        var status = ProtocolSamples.status
        status.modelName = nil
        #expect(throws: ProtocolError.self) { try MessageCodec.encode(status) }
    }

    @Test func topicMessagesCarryTheCodecBytes() throws {
        let message = try Topic.status(ProtocolSamples.device).message(ProtocolSamples.status)
        #expect(message.retain)
        #expect(try MessageCodec.decode(DeviceStatus.self, from: message.payload) == ProtocolSamples.status)
    }

    @Test func fetchReplyTopicStaysInTheRequestersSubtree() throws {
        let requester = ProtocolSamples.device
        #expect(try ProtocolSamples.fetch.replyTopic(for: requester) == "starling/v1/devices/pi-7/chunks/transfer-1")
        var request = ProtocolSamples.fetch
        request.replyTopic = nil
        #expect(try request.replyTopic(for: requester) == "starling/v1/devices/pi-7/chunks")
        request.replyTopic = "starling/v1/devices/pi-8/chunks"
        #expect(throws: ProtocolError.self) { try request.replyTopic(for: requester) }
        request.replyTopic = "starling/v1/devices/pi-7/assignment"
        #expect(throws: ProtocolError.self) { try request.replyTopic(for: requester) }
    }

    @Test func histogramSketchesMerge() throws {
        var a = HistogramSketch(edges: [0, 10])
        var b = HistogramSketch(edges: [0, 10])
        for v in [-1.0, 5, 20] { a.add(v) }
        for v in [10.0, .nan] { b.add(v) }
        b.add(nil)
        let merged = try a.merged(with: b)
        #expect(merged.counts == [1, 1, 2])
        #expect(merged.missing == 2 && merged.count == 4)
        #expect(merged.sum == 34 && merged.min == -1 && merged.max == 20)
        #expect(throws: ProtocolError.self) { try a.merged(with: HistogramSketch(edges: [1])) }
        #expect(try HistogramSketch(edges: []).merged(with: HistogramSketch(edges: [])).min == nil)
    }

    @Test func recentIDsDropDuplicatesWithinTheirHorizon() {
        var ids = RecentMessageIDs(capacity: 3)
        let fresh = ["a", "b", "c"].map { ids.insert($0) }
        #expect(fresh == [true, true, true])
        let repeated = ids.insert("a")
        #expect(!repeated)
        let evicting = ids.insert("d")  // evicts "a"
        #expect(evicting)
        #expect(!ids.contains("a") && ids.contains("d") && ids.count == 3)
        let again = ids.insert("a")
        #expect(again)
    }
}
