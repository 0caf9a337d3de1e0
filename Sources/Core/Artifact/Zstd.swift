import CZstd

/// zstd compression with an optional prefix (the base of a delta), and bounded decompression
/// that never allocates more than the declared size and refuses decompression bombs.
public enum Zstd {
    /// Compresses `input` into one zstd frame (content size in the header). With `prefix`, matches
    /// may reach into it and the decoder needs the same prefix (a delta against it).
    public static func compress(_ input: [UInt8], level: Int = 3, prefix: [UInt8]? = nil) throws(ArtifactError) -> [UInt8] {
        try compress(input, level: level, prefix: prefix, writeContentSize: true)
    }

    /// `compress`, optionally leaving the content size out of the frame header and with a fixed
    /// window (for tests of hostile frames).
    static func compress(
        _ input: [UInt8], level: Int, prefix: [UInt8]?, writeContentSize: Bool, windowLog: Int? = nil
    ) throws(ArtifactError) -> [UInt8] {
        guard let cctx = ZSTD_createCCtx() else { throw ArtifactError(.io, "cannot allocate a zstd compression context") }
        defer { ZSTD_freeCCtx(cctx) }
        try check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, Int32(clamping: level)), "compression level \(level)")
        try check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, writeContentSize ? 1 : 0), "content size flag")
        if let windowLog {
            try check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, Int32(windowLog)), "window log \(windowLog)")
        }
        let capacity = ZSTD_compressBound(input.count)
        var output = [UInt8](repeating: 0, count: capacity)
        // The buffer closures rethrow untyped errors, so they hand back a Result instead.
        let written = input.withUnsafeBytes { src in
            (prefix ?? []).withUnsafeBytes { base in
                output.withUnsafeMutableBytes { dst in
                    Result { () throws(ArtifactError) -> Int in
                        if let prefix, !prefix.isEmpty {
                            // The window must reach back over the whole base to find its matches.
                            let log = min(31, max(10, bitsNeeded(prefix.count + input.count)))
                            try check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, Int32(log)), "window log \(log)")
                            if prefix.count + input.count > 1 << 27 {
                                try check(
                                    ZSTD_CCtx_setParameter(cctx, ZSTD_c_enableLongDistanceMatching, 1), "long distance matching")
                            }
                            try check(ZSTD_CCtx_refPrefix(cctx, base.baseAddress, base.count), "prefix")
                        }
                        return try check(
                            ZSTD_compress2(cctx, dst.baseAddress, dst.count, src.baseAddress, src.count), "compression")
                    }
                }
            }
        }
        output.removeSubrange(try written.get()...)
        return output
    }

    /// Decompresses one zstd frame that must expand to exactly `expectedSize` bytes.
    ///
    /// Never allocates more than `expectedSize + 1` output bytes, and caps the decoder's window
    /// at what `expectedSize` (plus the prefix) can need, at most `2^maxWindowLog`. More output
    /// than declared is `decompressionBomb`; a corrupt, truncated or trailing-data frame, a frame
    /// needing a larger window, or less output than declared is `decompressionFailed`.
    public static func decompress(
        _ input: [UInt8], expectedSize: Int, prefix: [UInt8]? = nil, maxWindowLog: Int = 30
    ) throws(ArtifactError) -> [UInt8] {
        guard expectedSize >= 0 else { throw ArtifactError(.decompressionFailed, "negative declared size") }
        let declared = input.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        // UInt64.max is "unknown", UInt64.max - 1 "error": both fall through to streaming, which reports them.
        if declared < UInt64.max - 1, declared > UInt64(expectedSize) {
            throw ArtifactError(
                .decompressionBomb,
                "the payload frame expands to \(declared) bytes but the manifest declares \(expectedSize); refusing a decompression bomb"
            )
        }
        guard let dctx = ZSTD_createDCtx() else { throw ArtifactError(.io, "cannot allocate a zstd decompression context") }
        defer { ZSTD_freeDCtx(dctx) }
        let windowLog = min(maxWindowLog, max(10, bitsNeeded(expectedSize + (prefix?.count ?? 0))))
        try check(
            ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, Int32(windowLog)), "window log \(windowLog)", .decompressionFailed)
        var output = [UInt8](repeating: 0, count: expectedSize + 1)
        let produced = input.withUnsafeBytes { src in
            (prefix ?? []).withUnsafeBytes { base in
                output.withUnsafeMutableBytes { dst in
                    Result { () throws(ArtifactError) -> Int in
                        if let prefix, !prefix.isEmpty {
                            try check(ZSTD_DCtx_refPrefix(dctx, base.baseAddress, base.count), "prefix", .decompressionFailed)
                        }
                        return try stream(dctx, src, dst, expectedSize: expectedSize)
                    }
                }
            }
        }
        let count = try produced.get()
        guard count == expectedSize else {
            throw ArtifactError(
                .decompressionFailed, "the payload decompresses to \(count) bytes, not the \(expectedSize) declared")
        }
        output.removeLast()
        return output
    }

    private static func stream(
        _ dctx: OpaquePointer, _ src: UnsafeRawBufferPointer, _ dst: UnsafeMutableRawBufferPointer, expectedSize: Int
    ) throws(ArtifactError) -> Int {
        var inBuffer = ZSTD_inBuffer(src: src.baseAddress, size: src.count, pos: 0)
        var outBuffer = ZSTD_outBuffer(dst: dst.baseAddress, size: dst.count, pos: 0)
        while true {
            let before = (inBuffer.pos, outBuffer.pos)
            let remaining = try check(ZSTD_decompressStream(dctx, &outBuffer, &inBuffer), "decompression", .decompressionFailed)
            if outBuffer.pos > expectedSize {
                throw ArtifactError(
                    .decompressionBomb,
                    "the payload expands past the \(expectedSize) bytes the manifest declares; refusing a decompression bomb")
            }
            if remaining == 0 { break }
            if before == (inBuffer.pos, outBuffer.pos) {
                throw ArtifactError(.decompressionFailed, "the compressed payload is truncated (the zstd frame does not end)")
            }
        }
        guard inBuffer.pos == inBuffer.size else {
            throw ArtifactError(
                .decompressionFailed, "the compressed payload has \(inBuffer.size - inBuffer.pos) bytes after its zstd frame")
        }
        return outBuffer.pos
    }

    /// ceil(log2(n)) for n >= 1.
    static func bitsNeeded(_ n: Int) -> Int {
        n <= 1 ? 0 : Int.bitWidth - (n - 1).leadingZeroBitCount
    }

    @discardableResult
    private static func check(_ result: Int, _ what: String, _ code: ArtifactError.Code = .invalidArgument) throws(ArtifactError)
        -> Int
    {
        if ZSTD_isError(result) != 0 {
            throw ArtifactError(code, "zstd \(what) failed: \(String(cString: ZSTD_getErrorName(result)))")
        }
        return result
    }
}
