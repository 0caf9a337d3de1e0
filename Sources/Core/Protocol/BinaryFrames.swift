/// One piece of a package on `devices/{id}/chunks`: a payload chunk, or the package head
/// (manifest and signature) a receiver needs to check the chunks.
///
/// Layout, little-endian, 52 bytes then the payload:
/// magic `SCHK` (4), frame version (u8, 1), kind (u8: 0 chunk, 1 head), reserved (u16, 0),
/// package id (32 bytes: SHA-256 of the signed manifest), chunk index (u32), chunk count (u32),
/// payload length (u32), payload. Parsing is strict: exact length, known kind, zero reserved
/// bytes, index below count; a newer frame version is `unsupportedVersion`.
public struct ChunkFrame: Sendable, Equatable {
    /// What a frame carries.
    public enum Kind: UInt8, Sendable {
        /// Payload chunk `index` of `count`.
        case chunk = 0
        /// The package head (`PackageHead.encode()`); index 0.
        case head = 1
    }

    /// The frame version this build writes and reads.
    public static let version: UInt8 = 1
    /// Bytes before the payload.
    public static let headerBytes = 52
    /// The largest payload accepted by default (the package format's largest chunk size).
    public static let maxPayloadBytes = 16 << 20
    static let magic: [UInt8] = Array("SCHK".utf8)

    /// What the frame carries.
    public var kind: Kind
    /// The package (`PackageHead.id`): SHA-256 of its signed manifest bytes, lowercase hex.
    public var packageId: String
    /// The chunk's index (0 for a head).
    public var index: Int
    /// The number of chunks in the package.
    public var count: Int
    /// The chunk's bytes, or the encoded package head.
    public var payload: [UInt8]

    /// A frame; throws `invalidValue` if the package id is not a SHA-256 digest, the payload is
    /// empty or over `maxPayloadBytes`, or the index is outside `0..<count`.
    public init(kind: Kind = .chunk, packageId: String, index: Int, count: Int, payload: [UInt8]) throws(ProtocolError) {
        guard PackageDigest.isHex(packageId, bytes: 32) else {
            throw ProtocolError(.invalidValue, "chunk frame: package id is not a SHA-256 digest (64 lowercase hex digits)")
        }
        guard count >= 1, count <= Int(UInt32.max), index >= 0, index < count, kind == .chunk || index == 0 else {
            throw ProtocolError(.invalidValue, "chunk frame: index \(index) is outside 0..<\(count) (a head has index 0)")
        }
        guard !payload.isEmpty, payload.count <= Self.maxPayloadBytes else {
            throw ProtocolError(
                .invalidValue, "chunk frame: payload of \(payload.count) bytes is outside 1...\(Self.maxPayloadBytes)")
        }
        self.kind = kind
        self.packageId = packageId
        self.index = index
        self.count = count
        self.payload = payload
    }

    /// The frame's bytes.
    public func encoded() -> [UInt8] {
        var out = Self.magic
        out.reserveCapacity(Self.headerBytes + payload.count)
        out.append(Self.version)
        out.append(kind.rawValue)
        out.appendLittleEndian(UInt16(0))
        out.append(contentsOf: PackageDigest.bytes(hex: packageId)!)
        out.appendLittleEndian(UInt32(index))
        out.appendLittleEndian(UInt32(count))
        out.appendLittleEndian(UInt32(payload.count))
        out.append(contentsOf: payload)
        return out
    }

    /// Parses a frame; payloads over `maxPayload` bytes are `tooLarge`.
    public init(parsing bytes: [UInt8], maxPayload: Int = maxPayloadBytes) throws(ProtocolError) {
        var reader = FrameReader(bytes: bytes, what: "chunk frame")
        try reader.expectMagic(Self.magic)
        try reader.expectVersion(Self.version)
        let rawKind = try reader.u8()
        guard let kind = Kind(rawValue: rawKind) else { throw reader.fail("has unknown kind \(rawKind)") }
        guard try reader.u16() == 0 else { throw reader.fail("has reserved bits set") }
        let packageId = PackageDigest.hex(try reader.take(32))
        let index = Int(try reader.u32())
        let count = Int(try reader.u32())
        let length = Int(try reader.u32())
        guard length <= maxPayload else {
            throw ProtocolError(.tooLarge, "chunk frame payload is \(length) bytes; the limit is \(maxPayload)")
        }
        let payload = Array(try reader.take(length))
        try reader.expectEnd()
        guard length > 0 else { throw reader.fail("has an empty payload") }
        guard count >= 1, index < count, kind == .chunk || index == 0 else {
            throw reader.fail("has index \(index) outside 0..<\(count)")
        }
        self.kind = kind
        self.packageId = packageId
        self.index = index
        self.count = count
        self.payload = payload
    }
}

/// A federated-learning update on `devices/{id}/fl/update`: a signed `FLUpdateHeader` and the
/// encoded update bytes it pins.
///
/// Layout, little-endian: magic `SFLU` (4), frame version (u8, 1), reserved (u8 and u16, 0),
/// header length (u32), payload length (u32), the header (the signed message's wire bytes), the
/// payload. Parsing checks the lengths exactly and that the payload's size and SHA-256 match the
/// header; the signature is checked by the receiver with the device's key.
public struct FLUpdateFrame: Sendable, Equatable {
    /// The frame version this build writes and reads.
    public static let version: UInt8 = 1
    /// The largest header accepted, in bytes.
    public static let maxHeaderBytes = 64 << 10
    /// The largest update payload accepted by default, in bytes.
    public static let maxPayloadBytes = 128 << 20
    static let magic: [UInt8] = Array("SFLU".utf8)

    /// The signed header (verify it before trusting any field).
    public var header: SignedMessage<FLUpdateHeader>
    /// The encoded update.
    public var payload: [UInt8]

    /// A frame; throws `invalidValue` if the payload's size or SHA-256 differs from the header.
    public init(header: SignedMessage<FLUpdateHeader>, payload: [UInt8]) throws(ProtocolError) {
        try Self.check(header.unverified, payload)
        self.header = header
        self.payload = payload
    }

    /// The frame's bytes.
    public func encoded() -> [UInt8] {
        HeadedFrame.encode(magic: Self.magic, version: Self.version, head: header.encoded(), payload: payload)
    }

    /// Parses a frame; payloads over `maxPayload` bytes are `tooLarge`.
    public init(parsing bytes: [UInt8], maxPayload: Int = maxPayloadBytes) throws(ProtocolError) {
        let (head, payload) = try HeadedFrame.parse(
            bytes, magic: Self.magic, version: Self.version, what: "FL update", maxHead: Self.maxHeaderBytes,
            maxPayload: maxPayload)
        header = try SignedMessage<FLUpdateHeader>(decoding: head, maxBytes: Self.maxHeaderBytes)
        do {
            try Self.check(header.unverified, payload)
        } catch {
            throw ProtocolError(.invalidFrame, error.message)
        }
        self.payload = payload
    }

    private static func check(_ header: FLUpdateHeader, _ payload: [UInt8]) throws(ProtocolError) {
        guard header.payloadSize == payload.count else {
            throw ProtocolError(
                .invalidValue, "FL update payload is \(payload.count) bytes; its header says \(header.payloadSize)")
        }
        guard PackageDigest.sha256(payload) == header.payloadSha256 else {
            throw ProtocolError(.invalidValue, "FL update payload does not match the SHA-256 in its header")
        }
    }
}

/// A federated-learning task on `devices/{id}/fl/task`: the `FLTask` (JSON) and the encoded
/// global parameters it pins by size and SHA-256.
///
/// Layout, little-endian: magic `SFLT` (4), frame version (u8, 1), reserved (u8 and u16, 0),
/// task length (u32), payload length (u32), the task's JSON, the payload. Parsing checks the
/// lengths exactly, validates the task, and checks the payload against it.
public struct FLTaskFrame: Sendable, Equatable {
    /// The frame version this build writes and reads.
    public static let version: UInt8 = 1
    static let magic: [UInt8] = Array("SFLT".utf8)

    /// The task.
    public var task: FLTask
    /// The encoded global parameters.
    public var payload: [UInt8]

    /// A frame; throws `invalidValue` if the payload's size or SHA-256 differs from the task's.
    public init(task: FLTask, payload: [UInt8]) throws(ProtocolError) {
        try Self.check(task, payload)
        self.task = task
        self.payload = payload
    }

    /// The frame's bytes.
    public func encoded() throws(ProtocolError) -> [UInt8] {
        HeadedFrame.encode(magic: Self.magic, version: Self.version, head: try MessageCodec.encode(task), payload: payload)
    }

    /// Parses and validates a frame; payloads over `maxPayload` bytes are `tooLarge`.
    public init(parsing bytes: [UInt8], maxPayload: Int = FLUpdateFrame.maxPayloadBytes) throws(ProtocolError) {
        let (head, payload) = try HeadedFrame.parse(
            bytes, magic: Self.magic, version: Self.version, what: "FL task", maxHead: FLUpdateFrame.maxHeaderBytes,
            maxPayload: maxPayload)
        task = try MessageCodec.decode(FLTask.self, from: head)
        do {
            try Self.check(task, payload)
        } catch {
            throw ProtocolError(.invalidFrame, error.message)
        }
        self.payload = payload
    }

    private static func check(_ task: FLTask, _ payload: [UInt8]) throws(ProtocolError) {
        guard task.globalSize == payload.count else {
            throw ProtocolError(
                .invalidValue, "FL task payload is \(payload.count) bytes; the task says \(task.globalSize)")
        }
        guard PackageDigest.sha256(payload) == task.globalSha256 else {
            throw ProtocolError(.invalidValue, "FL task payload does not match the SHA-256 in the task")
        }
    }
}

/// The envelope the two federated frames share: magic (4), frame version (u8), reserved (u8 and
/// u16, 0), head length (u32), payload length (u32), the head, the payload; little-endian.
enum HeadedFrame {
    static func encode(magic: [UInt8], version: UInt8, head: [UInt8], payload: [UInt8]) -> [UInt8] {
        var out = magic
        out.reserveCapacity(16 + head.count + payload.count)
        out.append(version)
        out.append(0)
        out.appendLittleEndian(UInt16(0))
        out.appendLittleEndian(UInt32(head.count))
        out.appendLittleEndian(UInt32(payload.count))
        out.append(contentsOf: head)
        out.append(contentsOf: payload)
        return out
    }

    /// The head and payload of a frame called `what` in errors; lengths are checked exactly.
    static func parse(
        _ bytes: [UInt8], magic: [UInt8], version: UInt8, what: String, maxHead: Int, maxPayload: Int
    ) throws(ProtocolError) -> (head: [UInt8], payload: [UInt8]) {
        var reader = FrameReader(bytes: bytes, what: "\(what) frame")
        try reader.expectMagic(magic)
        try reader.expectVersion(version)
        guard try reader.u8() == 0, try reader.u16() == 0 else { throw reader.fail("has reserved bits set") }
        let headLength = Int(try reader.u32())
        let payloadLength = Int(try reader.u32())
        guard headLength <= maxHead else {
            throw ProtocolError(.tooLarge, "\(what) header is \(headLength) bytes; the limit is \(maxHead)")
        }
        guard payloadLength <= maxPayload else {
            throw ProtocolError(.tooLarge, "\(what) payload is \(payloadLength) bytes; the limit is \(maxPayload)")
        }
        let head = Array(try reader.take(headLength))
        let payload = Array(try reader.take(payloadLength))
        try reader.expectEnd()
        return (head, payload)
    }
}

/// A bounds-checked little-endian reader over a received frame; never traps.
private struct FrameReader {
    let bytes: [UInt8]
    let what: String
    var offset = 0

    func fail(_ why: String) -> ProtocolError {
        ProtocolError(.invalidFrame, "\(what) \(why)")
    }

    mutating func take(_ count: Int) throws(ProtocolError) -> ArraySlice<UInt8> {
        guard count >= 0, count <= bytes.count - offset else {
            throw fail("is truncated: \(bytes.count) bytes, needs at least \(offset + count)")
        }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    mutating func u8() throws(ProtocolError) -> UInt8 { try take(1).first! }

    mutating func u16() throws(ProtocolError) -> UInt16 {
        try take(2).reversed().reduce(0) { $0 << 8 | UInt16($1) }
    }

    mutating func u32() throws(ProtocolError) -> UInt32 {
        try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func expectMagic(_ magic: [UInt8]) throws(ProtocolError) {
        guard bytes.count >= magic.count, try take(magic.count).elementsEqual(magic) else {
            throw fail("does not start with '\(String(decoding: magic, as: UTF8.self))'")
        }
    }

    mutating func expectVersion(_ supported: UInt8) throws(ProtocolError) {
        let version = try u8()
        guard version <= supported else {
            throw ProtocolError(
                .unsupportedVersion, "\(what) version \(version) is newer than this build reads (\(supported)); upgrade it")
        }
        guard version == supported else { throw fail("has unknown version \(version)") }
    }

    func expectEnd() throws(ProtocolError) {
        guard offset == bytes.count else { throw fail("has \(bytes.count - offset) trailing bytes") }
    }
}

extension ChunkFrame {
    /// The frame carrying payload chunk `chunk` of a package with `count` chunks.
    public init(_ chunk: Chunk, count: Int) throws(ProtocolError) {
        try self.init(kind: .chunk, packageId: chunk.packageId, index: chunk.index, count: count, payload: chunk.bytes)
    }

    /// The payload chunk this frame carries, to check with `PackageHead.check(_:)`; nil for a head.
    public var chunk: Chunk? {
        kind == .chunk ? Chunk(packageId: packageId, index: index, bytes: payload) : nil
    }
}
