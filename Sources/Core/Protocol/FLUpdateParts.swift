/// One part of an `FLUpdateFrame` too large for one message, on the same `devices/{id}/fl/update`
/// topic: the part's place in the whole and the whole frame's size and SHA-256.
public struct FLUpdatePart: ControlMessage {
    /// "fl-update-part".
    public static let schema = "fl-update-part"

    /// The part's id: the update's id, `.part-`, the index.
    public var id: String
    /// When the update was split, ms since the epoch.
    public var time: Int64
    /// The id of the update (`FLUpdateHeader.id`) whose frame this is a part of.
    public var updateId: String
    /// The part's index, from 0.
    public var index: Int
    /// How many parts the frame has.
    public var count: Int
    /// The whole frame's size in bytes.
    public var frameSize: Int
    /// The whole frame's SHA-256, lowercase hex.
    public var frameSha256: String

    /// The id of part `index` of update `update`: `<update>.part-<index>` (also its outbox id).
    public static func messageId(update: String, index: Int) -> String { "\(update).part-\(index)" }

    /// A part header.
    public init(updateId: String, time: Int64, index: Int, count: Int, frameSize: Int, frameSha256: String) {
        self.id = Self.messageId(update: updateId, index: index)
        self.time = time
        self.updateId = updateId
        self.index = index
        self.count = count
        self.frameSize = frameSize
        self.frameSha256 = frameSha256
    }

    /// Checks the ids, the index against the count, and the digest.
    public func validate() throws(ProtocolError) {
        let s = Self.schema
        try FieldCheck.identifier(updateId, s, "updateId")
        try FieldCheck.range(count, 2...65_536, s, "count")
        try FieldCheck.range(index, 0...(count - 1), s, "index")
        try FieldCheck.range(frameSize, 1...(FLUpdateFrame.maxPayloadBytes + FLUpdateFrame.maxHeaderBytes + 16), s, "frameSize")
        try FieldCheck.digest(frameSha256, s, "frameSha256")
        guard id == Self.messageId(update: updateId, index: index) else {
            throw ProtocolError(
                .invalidValue, "\(s) message: id '\(id.prefix(80))' is not '\(Self.messageId(update: updateId, index: index))'")
        }
    }
}

/// A part of a large update on `devices/{id}/fl/update`.
///
/// Layout: the federated frames' envelope (`HeadedFrame`) with magic `SFLC`: the `FLUpdatePart`
/// JSON, then the part's bytes of the whole `FLUpdateFrame`. A receiver tells the two frames on
/// the topic apart by their magic (`isPart`).
public struct FLUpdatePartFrame: Sendable, Equatable {
    /// The frame version this build writes and reads.
    public static let version: UInt8 = 1
    static let magic: [UInt8] = Array("SFLC".utf8)

    /// Where the bytes belong.
    public var part: FLUpdatePart
    /// The part's bytes of the whole frame.
    public var payload: [UInt8]

    /// A part frame.
    public init(part: FLUpdatePart, payload: [UInt8]) {
        self.part = part
        self.payload = payload
    }

    /// Whether `bytes` start like a part frame (else they should be a whole `FLUpdateFrame`).
    public static func isPart(_ bytes: [UInt8]) -> Bool {
        bytes.count >= magic.count && bytes.prefix(magic.count).elementsEqual(magic)
    }

    /// The frame's bytes.
    public func encoded() throws(ProtocolError) -> [UInt8] {
        HeadedFrame.encode(magic: Self.magic, version: Self.version, head: try MessageCodec.encode(part), payload: payload)
    }

    /// Parses a part frame; payloads over `maxPayload` bytes are `tooLarge`.
    public init(parsing bytes: [UInt8], maxPayload: Int = FLUpdateFrame.maxPayloadBytes) throws(ProtocolError) {
        let (head, payload) = try HeadedFrame.parse(
            bytes, magic: Self.magic, version: Self.version, what: "FL update part", maxHead: FLUpdateFrame.maxHeaderBytes,
            maxPayload: maxPayload)
        part = try MessageCodec.decode(FLUpdatePart.self, from: head)
        guard !payload.isEmpty, payload.count <= part.frameSize else {
            throw ProtocolError(.invalidFrame, "FL update part of \(payload.count) bytes for a frame of \(part.frameSize)")
        }
        self.payload = payload
    }

    /// `frame` (an encoded `FLUpdateFrame` of update `updateId`) as part frames of at most
    /// `partBytes` of it each; a frame that fits stays one message (returned as is).
    public static func split(
        _ frame: [UInt8], updateId: String, time: Int64, partBytes: Int
    ) throws(ProtocolError) -> [[UInt8]] {
        guard partBytes >= 1024 else { throw ProtocolError(.invalidValue, "FL update parts must hold at least 1024 bytes") }
        guard frame.count > partBytes else { return [frame] }
        let count = (frame.count + partBytes - 1) / partBytes
        let digest = PackageDigest.sha256(frame)
        return try (0..<count).map { (index: Int) throws(ProtocolError) -> [UInt8] in
            let part = FLUpdatePart(
                updateId: updateId, time: time, index: index, count: count, frameSize: frame.count, frameSha256: digest)
            let range = (index * partBytes)..<min(frame.count, (index + 1) * partBytes)
            return try FLUpdatePartFrame(part: part, payload: Array(frame[range])).encoded()
        }
    }
}

/// Puts split updates together again (the hub's side): parts are kept per device and update until
/// all have come, then the whole frame is checked against its size and SHA-256. Duplicates are
/// harmless; a device has at most `maxPendingPerDevice` updates in progress (the oldest goes);
/// bytes held are bounded by `maxPendingBytes`; updates not completed within `expiry` are dropped.
public struct FLUpdateAssembler: Sendable {
    private struct Pending: Sendable {
        var part: FLUpdatePart
        var pieces: [Int: [UInt8]] = [:]
        var bytes = 0
        var started: Int64
    }

    /// Updates one device may have in progress.
    public let maxPendingPerDevice: Int
    /// Bytes held across all devices.
    public let maxPendingBytes: Int
    /// How long an incomplete update is kept, ms.
    public let expiry: Int64
    private var pending: [String: Pending] = [:]

    /// An assembler with these bounds.
    public init(maxPendingPerDevice: Int = 2, maxPendingBytes: Int = 512 << 20, expiry: Int64 = 3_600_000) {
        self.maxPendingPerDevice = max(1, maxPendingPerDevice)
        self.maxPendingBytes = maxPendingBytes
        self.expiry = expiry
    }

    /// Bytes held in incomplete updates.
    public var pendingBytes: Int { pending.values.reduce(0) { $0 + $1.bytes } }
    /// Incomplete updates.
    public var pendingCount: Int { pending.count }

    /// Adds `frame` from `device`; the whole update frame once its last part came, else nil.
    /// Throws for a part that contradicts earlier ones, or a whole that does not match its digest
    /// (the update is then dropped).
    public mutating func add(_ frame: FLUpdatePartFrame, from device: String, now: Int64) throws(ProtocolError) -> [UInt8]? {
        expire(now: now)
        let part = frame.part
        let key = device + "\u{0}" + part.updateId
        var entry = pending[key] ?? Pending(part: part, started: now)
        guard entry.part.count == part.count, entry.part.frameSize == part.frameSize,
            entry.part.frameSha256 == part.frameSha256
        else {
            pending[key] = nil
            throw ProtocolError(.invalidValue, "part \(part.index) of update \(part.updateId) does not match its other parts")
        }
        if let seen = entry.pieces[part.index] {
            guard seen == frame.payload else {
                pending[key] = nil
                throw ProtocolError(.invalidValue, "part \(part.index) of update \(part.updateId) came twice with different bytes")
            }
            return nil
        }
        guard entry.bytes + frame.payload.count <= part.frameSize else {
            pending[key] = nil
            throw ProtocolError(.invalidValue, "the parts of update \(part.updateId) exceed its size \(part.frameSize)")
        }
        if pending[key] == nil { makeRoom(for: device, bytes: frame.payload.count) }
        entry.pieces[part.index] = frame.payload
        entry.bytes += frame.payload.count
        guard entry.pieces.count == part.count else {
            pending[key] = entry
            makeRoom(for: nil, bytes: 0)
            return nil
        }
        pending[key] = nil
        var whole: [UInt8] = []
        whole.reserveCapacity(part.frameSize)
        for index in 0..<part.count { whole.append(contentsOf: entry.pieces[index]!) }
        guard whole.count == part.frameSize, PackageDigest.sha256(whole) == part.frameSha256 else {
            throw ProtocolError(.invalidValue, "update \(part.updateId) put together does not match its size and SHA-256")
        }
        return whole
    }

    /// Drops incomplete updates older than `expiry`.
    public mutating func expire(now: Int64) {
        pending = pending.filter { now - $0.value.started < expiry }
    }

    /// Keeps a device under its pending limit (for a new update) and everything under the byte bound,
    /// dropping the oldest incomplete updates first.
    private mutating func makeRoom(for device: String?, bytes: Int) {
        if let device {
            let mine = pending.filter { $0.key.hasPrefix(device + "\u{0}") }.sorted { $0.value.started < $1.value.started }
            for (key, _) in mine.prefix(max(0, mine.count - maxPendingPerDevice + 1)) { pending[key] = nil }
        }
        while pendingBytes + bytes > maxPendingBytes, let oldest = pending.min(by: { $0.value.started < $1.value.started }) {
            pending[oldest.key] = nil
        }
    }
}
