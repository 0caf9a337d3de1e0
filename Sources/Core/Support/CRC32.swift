import CKernels

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as used by zip, PNG and zlib's `crc32`.
///
/// The work is done by `sk_crc32` in CKernels: carry-less multiplication on x86-64 CPUs with
/// PCLMULQDQ (several GB/s), slice-by-8 tables elsewhere.
public enum CRC32 {
    /// The checksum of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        update(0, with: bytes)
    }

    /// The checksum of `bytes`.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    /// True when this CPU runs the carry-less multiplication path.
    public static var isAccelerated: Bool { sk_crc32_accelerated() != 0 }

    /// Continues `crc` (the checksum of earlier bytes, 0 for none) over `bytes`: the checksum
    /// of the earlier bytes followed by `bytes`.
    public static func update(_ crc: UInt32, with bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return crc }
        return sk_crc32(crc, base, bytes.count)
    }
}
