import Core
import Testing

@Suite("FL update parts")
struct UpdatePartsTests {
    static func frame(_ size: Int, seed: UInt64 = 1) -> [UInt8] {
        var random = RandomSource(seed: seed)
        return (0..<size).map { _ in UInt8(random.next() & 0xFF) }
    }

    func parts(_ frame: [UInt8], id: String = "task-1.dev-a", size: Int = 1024) throws -> [FLUpdatePartFrame] {
        try FLUpdatePartFrame.split(frame, updateId: id, time: 5, partBytes: size).map { try FLUpdatePartFrame(parsing: $0) }
    }

    @Test("a frame that fits stays one message; a larger one splits into parts that put it together in any order")
    func roundTrip() throws {
        let small = Self.frame(1000)
        #expect(try FLUpdatePartFrame.split(small, updateId: "u", time: 1, partBytes: 1024) == [small])
        #expect(!FLUpdatePartFrame.isPart(small))
        let big = Self.frame(10_000)
        let encoded = try FLUpdatePartFrame.split(big, updateId: "task-1.dev-a", time: 5, partBytes: 1024)
        #expect(encoded.count == 10 && encoded.allSatisfy(FLUpdatePartFrame.isPart))
        let frames = try encoded.map { try FLUpdatePartFrame(parsing: $0) }
        #expect(frames.map(\.part.index) == Array(0..<10) && frames.allSatisfy { $0.part.count == 10 })
        #expect(frames.map(\.payload.count) == Array(repeating: 1024, count: 9) + [784])
        #expect(frames[3].part.id == "task-1.dev-a.part-3")
        var assembler = FLUpdateAssembler()
        var whole: [UInt8]?
        for frame in frames.reversed() {
            #expect(whole == nil)
            whole = try assembler.add(frame, from: "dev-a", now: 10)
        }
        #expect(whole == big)
        #expect(assembler.pendingCount == 0 && assembler.pendingBytes == 0)
    }

    @Test("a repeated part is harmless; a part with other bytes, another size or a bad digest drops the update")
    func duplicatesAndLies() throws {
        let big = Self.frame(3000)
        let frames = try parts(big)
        var assembler = FLUpdateAssembler()
        #expect(try assembler.add(frames[0], from: "dev-a", now: 1) == nil)
        #expect(try assembler.add(frames[0], from: "dev-a", now: 1) == nil)
        #expect(try assembler.add(frames[1], from: "dev-a", now: 1) == nil)
        #expect(try assembler.add(frames[2], from: "dev-a", now: 1) == big)

        var changed = frames[1]
        changed.payload[0] ^= 1
        #expect(try assembler.add(frames[1], from: "dev-a", now: 2) == nil)
        #expect(throws: ProtocolError.self) { try assembler.add(changed, from: "dev-a", now: 2) }
        #expect(assembler.pendingCount == 0)

        // Every part consistent, but the bytes are not the frame the digest names.
        var forged = try parts(Self.frame(3000, seed: 2))
        for i in forged.indices { forged[i].part.frameSha256 = frames[0].part.frameSha256 }
        _ = try assembler.add(forged[0], from: "dev-b", now: 3)
        _ = try assembler.add(forged[1], from: "dev-b", now: 3)
        #expect(throws: ProtocolError.self) { try assembler.add(forged[2], from: "dev-b", now: 3) }

        var bigger = frames[1]
        bigger.part.frameSize += 1
        _ = try assembler.add(frames[0], from: "dev-c", now: 4)
        #expect(throws: ProtocolError.self) { try assembler.add(bigger, from: "dev-c", now: 4) }
    }

    @Test("devices are kept apart; pending updates are bounded per device, in bytes and in time")
    func bounds() throws {
        let a = try parts(Self.frame(3000, seed: 1), id: "t1.dev")
        let b = try parts(Self.frame(3000, seed: 2), id: "t2.dev")
        let c = try parts(Self.frame(3000, seed: 3), id: "t3.dev")
        var assembler = FLUpdateAssembler(maxPendingPerDevice: 2, maxPendingBytes: 1 << 20, expiry: 1000)
        // The same update id from two devices does not mix.
        _ = try assembler.add(a[0], from: "dev-1", now: 0)
        _ = try assembler.add(a[1], from: "dev-2", now: 0)
        #expect(assembler.pendingCount == 2)
        // A third update in progress on dev-1 drops its oldest.
        _ = try assembler.add(b[0], from: "dev-1", now: 1)
        _ = try assembler.add(c[0], from: "dev-1", now: 2)
        #expect(assembler.pendingCount == 3)
        #expect(try assembler.add(a[1], from: "dev-1", now: 3) == nil)
        #expect(try assembler.add(a[2], from: "dev-1", now: 3) == nil, "t1's first part was dropped")
        // Past the expiry, what was pending is gone.
        assembler.expire(now: 5000)
        #expect(assembler.pendingCount == 0)
        // The byte bound drops the oldest.
        var tight = FLUpdateAssembler(maxPendingPerDevice: 10, maxPendingBytes: 2048, expiry: 1000)
        _ = try tight.add(a[0], from: "dev-1", now: 0)
        _ = try tight.add(b[0], from: "dev-2", now: 1)
        _ = try tight.add(c[0], from: "dev-3", now: 2)
        #expect(tight.pendingBytes <= 2048 && tight.pendingCount == 2)
    }

    @Test("malformed part frames are refused with a reason")
    func malformed() throws {
        let encoded = try FLUpdatePartFrame.split(Self.frame(3000), updateId: "u.d", time: 1, partBytes: 1024)
        #expect(throws: ProtocolError.self) { try FLUpdatePartFrame(parsing: Array(encoded[0].dropLast())) }
        #expect(throws: ProtocolError.self) { try FLUpdatePartFrame.split(Self.frame(3000), updateId: "u", time: 1, partBytes: 10) }
        var wrongIndex = try FLUpdatePartFrame(parsing: encoded[0])
        wrongIndex.part.index = 7
        #expect(throws: ProtocolError.self) { try wrongIndex.encoded() }
    }
}
