import Core
import Crypto
import Foundation
import Testing

/// Golden files for every wire format: a change to a schema, the JSON encoder's output or a frame
/// layout changes these bytes and shows in review. Regenerate deliberately with
/// `STARLING_UPDATE_FIXTURES=1 swift test --filter ProtocolFixture`.
@Suite struct ProtocolFixtureTests {
    static let directory = TestSupport.root + "/Tests/CoreTests/Fixtures/protocol/"
    static let updating = ProcessInfo.processInfo.environment["STARLING_UPDATE_FIXTURES"] == "1"

    /// The stored fixture `name`, after writing `bytes` to it when updating.
    func stored(_ name: String, writing bytes: [UInt8]) throws -> [UInt8] {
        let path = Self.directory + name
        if Self.updating {
            try FileManager.default.createDirectory(atPath: Self.directory, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
        let data = try #require(
            FileManager.default.contents(atPath: path), "fixture \(name) is missing; run with STARLING_UPDATE_FIXTURES=1")
        return Array(data)
    }

    /// The fixture equals the encoder's output, decodes to the sample, and re-encodes identically.
    func checkJSON<M: ControlMessage>(_ name: String, _ sample: M) throws {
        let encoded = try MessageCodec.encode(sample)
        let fixture = try stored(name, writing: encoded)
        #expect(fixture == encoded, "\(name): the encoding of the sample changed")
        let decoded = try MessageCodec.decode(M.self, from: fixture)
        #expect(decoded == sample)
        #expect(try MessageCodec.encode(decoded) == fixture, "\(name): decode + encode is not the identity")
    }

    /// The signed fixture pins the canonical signed bytes, verifies with `key`, decodes to the
    /// sample and re-encodes identically.
    func checkSigned<M: SignedControlMessage>(_ name: String, _ sample: M, key: Curve25519.Signing.PrivateKey) throws {
        let signed = try SignedMessage(signing: sample, with: key)
        let fixture = try stored(name, writing: signed.encoded())
        let parsed = try SignedMessage<M>(decoding: fixture)
        #expect(parsed.unverified == sample)
        #expect(parsed.signedBytes == signed.signedBytes, "\(name): the canonical signed bytes changed")
        #expect(try parsed.verified(with: key.publicKey) == sample)
        #expect(parsed.encoded() == fixture, "\(name): decode + encode is not the identity")
        #if os(Linux)
            // BoringSSL's Ed25519 is deterministic (RFC 8032); Apple's CryptoKit randomises signatures.
            #expect(signed.encoded() == fixture, "\(name): the signed encoding of the sample changed")
        #endif
    }

    @Test func status() throws { try checkJSON("status.json", ProtocolSamples.status) }
    @Test func telemetry() throws { try checkJSON("telemetry.json", ProtocolSamples.telemetry) }
    @Test func event() throws { try checkJSON("event.json", ProtocolSamples.event) }
    @Test func feedback() throws { try checkJSON("feedback.json", ProtocolSamples.feedback) }
    @Test func drift() throws { try checkJSON("drift.json", ProtocolSamples.drift) }
    @Test func fetch() throws { try checkJSON("fetch.json", ProtocolSamples.fetch) }
    @Test func flTask() throws { try checkJSON("fl-task.json", ProtocolSamples.flTask) }
    @Test func groupBroadcast() throws { try checkJSON("group-broadcast.json", ProtocolSamples.broadcast) }

    @Test func assignment() throws {
        try checkSigned("assignment.json", ProtocolSamples.assignment, key: ProtocolSamples.hubKey)
    }

    @Test func flUpdateHeader() throws {
        try checkSigned("fl-update-header.json", ProtocolSamples.flUpdateHeader, key: ProtocolSamples.deviceKey)
    }

    @Test func chunkFrame() throws {
        let sample = ProtocolSamples.chunkFrame
        let fixture = try stored("chunk-frame.bin", writing: sample.encoded())
        #expect(fixture == sample.encoded(), "chunk-frame.bin: the frame layout changed")
        let parsed = try ChunkFrame(parsing: fixture)
        #expect(parsed == sample)
        #expect(parsed.encoded() == fixture)
    }

    @Test func flUpdateFrame() throws {
        let header = try SignedMessage(signing: ProtocolSamples.flUpdateHeader, with: ProtocolSamples.deviceKey)
        let frame = try FLUpdateFrame(header: header, payload: ProtocolSamples.updatePayload)
        let fixture = try stored("fl-update-frame.bin", writing: frame.encoded())
        let parsed = try FLUpdateFrame(parsing: fixture)
        #expect(parsed.header.unverified == ProtocolSamples.flUpdateHeader)
        #expect(parsed.header.signedBytes == header.signedBytes)
        #expect(try parsed.header.verified(with: ProtocolSamples.deviceKey.publicKey) == ProtocolSamples.flUpdateHeader)
        #expect(parsed.payload == ProtocolSamples.updatePayload)
        #expect(parsed.encoded() == fixture)
        #if os(Linux)
            #expect(frame.encoded() == fixture, "fl-update-frame.bin: the frame layout changed")
        #endif
    }

    @Test func flTaskFrame() throws {
        let frame = try FLTaskFrame(task: ProtocolSamples.flTask, payload: ProtocolSamples.globalPayload)
        let fixture = try stored("fl-task-frame.bin", writing: try frame.encoded())
        #expect(fixture == (try frame.encoded()), "fl-task-frame.bin: the frame layout changed")
        let parsed = try FLTaskFrame(parsing: fixture)
        #expect(parsed == frame)
        var tampered = fixture
        tampered[tampered.count - 1] ^= 1
        #expect(throws: ProtocolError.self) { try FLTaskFrame(parsing: tampered) }
    }

    /// The fixtures a reader of `docs/protocol.md` sees are the ones the tests pin.
    @Test func everyFixtureIsChecked() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.directory).sorted()
        #expect(
            names == [
                "assignment.json", "chunk-frame.bin", "drift.json", "event.json", "feedback.json", "fetch.json",
                "fl-task-frame.bin", "fl-task.json", "fl-update-frame.bin", "fl-update-header.json", "group-broadcast.json", "status.json",
                "telemetry.json",
            ])
    }
}
