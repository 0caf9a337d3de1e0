import Core
import Crypto
import Foundation
import Testing

/// Malformed control messages of every schema are refused with the code naming what is wrong,
/// and every `ProtocolError` code has an input that produces it.
@Suite struct ProtocolRefusalTests {
    /// One control message schema: its sample on the wire and a decoder returning the error code.
    struct Schema: Sendable, CustomTestStringConvertible {
        var name: String
        var wire: [UInt8]
        var decode: @Sendable ([UInt8]) -> ProtocolError.Code?
        var testDescription: String { name }

        static func of<M: ControlMessage>(_ sample: M) -> Schema {
            Schema(name: M.schema, wire: try! MessageCodec.encode(sample)) { bytes in
                do throws(ProtocolError) {
                    _ = try MessageCodec.decode(M.self, from: bytes)
                    return nil
                } catch {
                    return error.code
                }
            }
        }
    }

    /// Every JSON control message schema, signed ones included (decoded as plain messages here).
    static let schemas: [Schema] = [
        .of(ProtocolSamples.status), .of(ProtocolSamples.telemetry), .of(ProtocolSamples.event),
        .of(ProtocolSamples.feedback), .of(ProtocolSamples.drift), .of(ProtocolSamples.fetch),
        .of(ProtocolSamples.flTask), .of(ProtocolSamples.broadcast), .of(ProtocolSamples.assignment),
        .of(ProtocolSamples.flUpdateHeader),
    ]

    /// The sample's wire JSON with `edit` applied.
    static func edited(_ schema: Schema, _ edit: (inout [String: Any]) -> Void) -> [UInt8] {
        var json = try! JSONSerialization.jsonObject(with: Data(schema.wire)) as! [String: Any]
        edit(&json)
        return Array(try! JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]))
    }

    @Test(
        "malformed messages of every schema are refused, each with the code naming the fault",
        arguments: ProtocolRefusalTests.schemas)
    func malformedMessages(schema: Schema) {
        #expect(schema.decode(schema.wire) == nil, "the sample itself decodes")
        let text = String(decoding: schema.wire, as: UTF8.self)
        let cases: [(String, [UInt8], ProtocolError.Code)] = [
            ("not JSON", Array(text.dropLast().utf8), .malformed),
            ("an array", Array("[\(text)]".utf8), .malformed),
            ("null", Array("null".utf8), .malformed),
            ("trailing bytes", Array((text + "}").utf8), .malformed),
            ("no v", Self.edited(schema) { $0["v"] = nil }, .missingField),
            ("v as text", Self.edited(schema) { $0["v"] = "1" }, .wrongType),
            ("v zero", Self.edited(schema) { $0["v"] = 0 }, .invalidValue),
            ("v from the future", Self.edited(schema) { $0["v"] = 2 }, .unsupportedVersion),
            ("no id", Self.edited(schema) { $0["id"] = nil }, .missingField),
            ("id with a wildcard", Self.edited(schema) { $0["id"] = "a+b" }, .invalidIdentifier),
            ("id with a slash", Self.edited(schema) { $0["id"] = "a/b" }, .invalidIdentifier),
            ("no time", Self.edited(schema) { $0["time"] = nil }, .missingField),
            ("time as text", Self.edited(schema) { $0["time"] = "now" }, .wrongType),
            ("negative time", Self.edited(schema) { $0["time"] = -1 }, .invalidValue),
            ("oversized", schema.wire + [UInt8](repeating: 0x20, count: MessageCodec.maxMessageBytes), .tooLarge),
        ]
        for (name, bytes, expected) in cases {
            let got = schema.decode(bytes)
            #expect(got == expected, "\(schema.name): \(name): got \(String(describing: got))")
        }
    }

    @Test("every ProtocolError code is produced by an input of its own")
    func everyCode() throws {
        let status = try MessageCodec.encode(ProtocolSamples.status)
        func decodeStatus(_ edit: (inout [String: Any]) -> Void) throws {
            _ = try MessageCodec.decode(DeviceStatus.self, from: Self.edited(.of(ProtocolSamples.status), edit))
        }
        let assignment = ProtocolSamples.assignment
        let scenarios: [(ProtocolError.Code, () throws -> Void)] = [
            (.invalidIdentifier, { _ = try DeviceID("pi\u{0}7") }),
            (.invalidTopic, { _ = try Topic(parsing: "starling/v1/devices/pi-7/unknown") }),
            (.malformed, { _ = try MessageCodec.decode(DeviceStatus.self, from: Array("{".utf8)) }),
            (.missingField, { try decodeStatus { $0["agentVersion"] = nil } }),
            (.wrongType, { try decodeStatus { $0["agentVersion"] = 3 } }),
            (.invalidValue, { try decodeStatus { $0["state"] = "asleep" } }),
            (.unsupportedVersion, { try decodeStatus { $0["v"] = 7 } }),
            (.tooLarge, { _ = try MessageCodec.decode(DeviceStatus.self, from: status, maxBytes: 8) }),
            (.invalidFrame, { _ = try ChunkFrame(parsing: Array(ProtocolSamples.chunkFrame.encoded().dropLast())) }),
            (
                .badSignature,
                {
                    _ = try SignedMessage(signing: assignment, with: ProtocolSamples.hubKey).verified(
                        with: ProtocolSamples.deviceKey.publicKey)
                }
            ),
            (.wrongDevice, { try assignment.check(for: DeviceID("pi-8"), now: assignment.time) }),
            (.expired, { try assignment.check(for: ProtocolSamples.device, now: assignment.expiresAt + 1) }),
        ]
        for (expected, body) in scenarios {
            var got: ProtocolError.Code?
            do {
                try body()
            } catch let error as ProtocolError {
                got = error.code
            }
            #expect(got == expected, "expected \(expected), got \(String(describing: got))")
        }
        let missing = Set(ProtocolError.Code.allCases).subtracting(scenarios.map(\.0))
        #expect(missing.isEmpty, "codes without a scenario: \(missing.map(\.rawValue).sorted())")
    }

    @Test(
        "ids with '/', '+', '#' or NUL are refused inside topics too",
        arguments: ["a+b", "#", "a\u{0}b", "+"])
    func badIdsInTopics(id: String) {
        for topic in [
            "starling/v1/devices/\(id)/status", "starling/v1/groups/\(id)/broadcast", "starling/v1/models/\(id)/manifest",
        ] {
            let error = #expect(throws: ProtocolError.self) { try Topic(parsing: topic) }
            #expect(error?.code == .invalidIdentifier, "\(topic)")
        }
    }

    @Test("a '/' in an id splits it into two levels: the topic is then not one Starling knows")
    func slashInTopicId() {
        let error = #expect(throws: ProtocolError.self) { try Topic(parsing: "starling/v1/devices/a/b/status") }
        #expect(error?.code == .invalidTopic)
    }
}
