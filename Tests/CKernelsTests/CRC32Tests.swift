import CKernels
import Testing

// sk_crc32 against zlib's crc32 (reference values computed with Python's zlib.crc32 on the same
// bytes), and the accelerated path against the portable tables on every short length.

/// The test bytes: byte i is bits 13... of i · 2654435761 (Python: `(i * 2654435761 >> 13) & 0xFF`).
private func crcBytes(_ count: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) }
}

@Suite("CRC-32 kernel")
struct CRC32KernelTests {
    @Test(
        "prefixes match zlib.crc32",
        arguments: [
            (0, 0x0000_0000), (1, 0xD202_EF8D), (3, 0x3611_4AFE), (15, 0x0856_E294), (16, 0x526F_DEA4),
            (17, 0xC13C_1805), (63, 0x0762_1D4D), (64, 0x62D5_15B2), (65, 0xD3BB_4B9E), (127, 0x2547_062E),
            (128, 0xD54A_6C92), (129, 0x85BF_10C4), (1000, 0x5B8F_28CE), (4109, 0x24BA_B7A7), (65536, 0x186E_16A2),
            ((1 << 20) + 77, 0x6753_F375),
        ] as [(Int, UInt32)])
    func zlibValues(_ count: Int, _ expected: UInt32) {
        let bytes = Guarded(crcBytes(count))
        #expect(sk_crc32(0, bytes.pointer, count) == expected)
        #expect(sk_crc32_portable(0, bytes.pointer, count) == expected)
    }

    @Test(
        "unaligned starts match zlib.crc32",
        arguments: [(1, 0xA8A9_5990), (7, 0x4F55_1FCD), (13, 0x9C78_72C9)] as [(Int, UInt32)])
    func unaligned(_ offset: Int, _ expected: UInt32) {
        let bytes = Guarded(Array(crcBytes(offset + 5000)[offset...]), alignment: 1)
        #expect(sk_crc32(0, bytes.pointer, 5000) == expected)
    }

    @Test("the standard check value and chaining")
    func chaining() {
        let check = Array("123456789".utf8)
        #expect(sk_crc32(0, check, check.count) == 0xCBF4_3926)
        let bytes = crcBytes(200_000)
        let first = sk_crc32(0, bytes, 1000)
        let rest = Array(bytes[1000...])
        #expect(sk_crc32(first, rest, rest.count) == 0x7E82_9AD5)
    }

    @Test("the fast path equals the tables on every length up to 600, at every start offset up to 16")
    func fastEqualsPortable() {
        var random = QRandom(seed: 31)
        let source = (0..<(600 + 16)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        var mismatches: [String] = []
        for offset in 0..<16 {
            for count in 0...600 {
                // Guarded memory: a read one byte past the end faults.
                let bytes = Guarded(Array(source[offset..<(offset + count)]), alignment: 1)
                let seed = UInt32(truncatingIfNeeded: count &* 0x9E37_79B9)
                if sk_crc32(seed, bytes.pointer, count) != sk_crc32_portable(seed, bytes.pointer, count) {
                    mismatches.append("offset \(offset) count \(count)")
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }
}
