import Core
import Testing

/// Binary frames are parsed strictly and never trap, whatever bytes arrive.
@Suite struct ProtocolFrameTests {
    let chunk = ProtocolSamples.chunkFrame

    func updateFrame() throws -> FLUpdateFrame {
        let header = try SignedMessage(signing: ProtocolSamples.flUpdateHeader, with: ProtocolSamples.deviceKey)
        return try FLUpdateFrame(header: header, payload: ProtocolSamples.updatePayload)
    }

    func chunkError(_ bytes: [UInt8], maxPayload: Int = ChunkFrame.maxPayloadBytes) -> ProtocolError.Code? {
        do {
            _ = try ChunkFrame(parsing: bytes, maxPayload: maxPayload)
            return nil
        } catch {
            return error.code
        }
    }

    /// `bytes` with `value` written little-endian at `offset`.
    func patched(_ bytes: [UInt8], at offset: Int, _ value: UInt32, width: Int = 4) -> [UInt8] {
        var out = bytes
        for i in 0..<width { out[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
        return out
    }

    @Test func chunkLayout() {
        let bytes = chunk.encoded()
        #expect(bytes.count == ChunkFrame.headerBytes + chunk.payload.count)
        #expect(Array(bytes[0..<4]) == Array("SCHK".utf8))
        #expect(bytes[4] == 1 && bytes[5] == 0)
        #expect(PackageDigest.hex(bytes[8..<40]) == chunk.packageId)
        #expect(bytes[40] == 2 && bytes[44] == 5 && bytes[48] == UInt8(chunk.payload.count))
    }

    @Test func everyTruncationIsRefused() throws {
        let bytes = chunk.encoded()
        for length in 0..<bytes.count {
            #expect(chunkError(Array(bytes[0..<length])) == .invalidFrame, "length \(length)")
        }
        let update = try updateFrame().encoded()
        for length in 0..<update.count {
            #expect(throws: ProtocolError.self) { try FLUpdateFrame(parsing: Array(update[0..<length])) }
        }
    }

    @Test func strictChunkHeader() {
        let bytes = chunk.encoded()
        #expect(chunkError(bytes + [0]) == .invalidFrame)
        #expect(chunkError(patched(bytes, at: 0, 0x4B48_4358)) == .invalidFrame)  // "XCHK"
        #expect(chunkError(patched(bytes, at: 4, 2, width: 1)) == .unsupportedVersion)
        #expect(chunkError(patched(bytes, at: 4, 0, width: 1)) == .invalidFrame)
        #expect(chunkError(patched(bytes, at: 5, 7, width: 1)) == .invalidFrame)
        #expect(chunkError(patched(bytes, at: 6, 1, width: 2)) == .invalidFrame)
        #expect(chunkError(patched(bytes, at: 40, 5)) == .invalidFrame)  // index == count
        #expect(chunkError(patched(patched(bytes, at: 40, 0), at: 44, 0)) == .invalidFrame)  // count 0
        #expect(chunkError(patched(bytes, at: 48, UInt32.max)) == .tooLarge)
        #expect(chunkError(bytes, maxPayload: 4) == .tooLarge)
        let empty = patched(Array(bytes[0..<ChunkFrame.headerBytes]), at: 48, 0)
        #expect(chunkError(empty) == .invalidFrame)
    }

    @Test func headFramesHaveIndexZero() throws {
        let head = try ChunkFrame(kind: .head, packageId: chunk.packageId, index: 0, count: 5, payload: [1, 2, 3])
        #expect(try ChunkFrame(parsing: head.encoded()) == head)
        #expect(head.chunk == nil)
        #expect(chunkError(patched(head.encoded(), at: 40, 1)) == .invalidFrame)
    }

    @Test func constructorRefusesWhatTheParserWould() {
        let id = chunk.packageId
        #expect(throws: ProtocolError.self) { try ChunkFrame(packageId: "abc", index: 0, count: 1, payload: [1]) }
        #expect(throws: ProtocolError.self) { try ChunkFrame(packageId: id.uppercased(), index: 0, count: 1, payload: [1]) }
        #expect(throws: ProtocolError.self) { try ChunkFrame(packageId: id, index: 1, count: 1, payload: [1]) }
        #expect(throws: ProtocolError.self) { try ChunkFrame(packageId: id, index: -1, count: 1, payload: [1]) }
        #expect(throws: ProtocolError.self) { try ChunkFrame(packageId: id, index: 0, count: 1, payload: []) }
        #expect(throws: ProtocolError.self) { try ChunkFrame(kind: .head, packageId: id, index: 1, count: 2, payload: [1]) }
    }

    @Test func chunksConvertBothWays() throws {
        let piece = Chunk(packageId: chunk.packageId, index: 3, bytes: [9, 8, 7])
        let frame = try ChunkFrame(piece, count: 4)
        #expect(try ChunkFrame(parsing: frame.encoded()).chunk == piece)
    }

    @Test func updatePayloadMustMatchItsHeader() throws {
        var bytes = try updateFrame().encoded()
        bytes[bytes.count - 1] ^= 0x01
        do {
            _ = try FLUpdateFrame(parsing: bytes)
            Issue.record("a flipped payload byte was accepted")
        } catch {
            #expect(error.code == .invalidFrame)
        }
        let header = try SignedMessage(signing: ProtocolSamples.flUpdateHeader, with: ProtocolSamples.deviceKey)
        #expect(throws: ProtocolError.self) { try FLUpdateFrame(header: header, payload: [1, 2, 3]) }
    }

    @Test func strictUpdateHeader() throws {
        let bytes = try updateFrame().encoded()
        let trailing = #expect(throws: ProtocolError.self) { try FLUpdateFrame(parsing: bytes + [0]) }
        #expect(trailing?.code == .invalidFrame)
        #expect(throws: ProtocolError.self) { try FLUpdateFrame(parsing: patched(bytes, at: 5, 1, width: 1)) }
        #expect(throws: ProtocolError.self) { try FLUpdateFrame(parsing: patched(bytes, at: 8, UInt32.max)) }
        #expect(throws: ProtocolError.self) { try FLUpdateFrame(parsing: bytes, maxPayload: 10) }
        let error = #expect(throws: ProtocolError.self) { try FLUpdateFrame(parsing: patched(bytes, at: 4, 9, width: 1)) }
        #expect(error?.code == .unsupportedVersion)
    }

    @Test func tamperedUpdateHeaderFailsVerification() throws {
        var bytes = try updateFrame().encoded()
        let needle = Array("\"examples\":180".utf8)
        let at = try #require((0...(bytes.count - needle.count)).first { Array(bytes[$0..<($0 + needle.count)]) == needle })
        bytes[at + needle.count - 3] = UInt8(ascii: "9")  // 180 -> 980
        let parsed = try FLUpdateFrame(parsing: bytes)
        #expect(parsed.header.unverified.examples == 980)
        #expect(throws: ProtocolError.self) { try parsed.header.verified(with: ProtocolSamples.deviceKey.publicKey) }
    }

    @Test func randomCorruptionNeverTraps() throws {
        var rng = RandomSource(seed: 42)
        let inputs = [chunk.encoded(), try updateFrame().encoded()]
        for input in inputs {
            for _ in 0..<2000 {
                var bytes = input
                for _ in 0...rng.below(4) {
                    bytes[rng.below(bytes.count)] = UInt8(truncatingIfNeeded: rng.next())
                }
                if rng.below(8) == 0 { bytes.removeLast(rng.below(bytes.count)) }
                _ = try? ChunkFrame(parsing: bytes)
                _ = try? FLUpdateFrame(parsing: bytes)
            }
        }
    }
}
