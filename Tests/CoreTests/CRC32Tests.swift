import Testing

@testable import Core

@Suite("CRC-32")
struct CRC32Tests {
    /// Byte i is bits 13... of i · 2654435761 (the bytes the CKernels tests use too).
    static func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) }
    }

    @Test("checksums match zlib.crc32 (values from Python's zlib)")
    func zlibValues() {
        #expect(CRC32.checksum([]) == 0)
        #expect(CRC32.checksum(Self.bytes(65)) == 0xD3BB_4B9E)
        #expect(CRC32.checksum(Self.bytes(4109)) == 0x24BA_B7A7)
        #expect(CRC32.checksum(Self.bytes((1 << 20) + 77)) == 0x6753_F375)
    }

    @Test("update continues a checksum over more bytes")
    func update() {
        let bytes = Self.bytes(200_000)
        let first = CRC32.checksum(Array(bytes[..<1000]))
        let whole = Array(bytes[1000...]).withUnsafeBytes { CRC32.update(first, with: $0) }
        #expect(whole == 0x7E82_9AD5)
        #expect(CRC32.update(whole, with: UnsafeRawBufferPointer(start: nil, count: 0)) == whole)
    }
}
