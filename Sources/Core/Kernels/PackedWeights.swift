import CKernels

/// int8 weights (N rows of K) packed once for one instruction set, with their row sums.
final class PackedWeights: @unchecked Sendable {
    let isa: sk_isa
    let n: Int
    let k: Int
    let storage: UnsafeMutableRawPointer
    /// colsum[n] = Σₖ B[n][k], to fold the input zero point into the bias.
    let colsum: [Int32]

    /// Packs `values` (row-major N × K) for `isa`.
    init(_ values: [Int8], n: Int, k: Int, isa: sk_isa) {
        self.isa = isa
        self.n = n
        self.k = k
        let storage = UnsafeMutableRawPointer.allocate(byteCount: max(sk_qgemm_packed_size(isa, n, k), 64), alignment: 64)
        var sums = [Int32](repeating: 0, count: n)
        values.withUnsafeBufferPointer { b in
            sk_qgemm_pack(isa, n, k, b.baseAddress!, k, storage, &sums)
        }
        self.storage = storage
        colsum = sums
    }

    deinit {
        storage.deallocate()
    }

    /// Column-block granularity for splitting N across threads.
    var nBlock: Int { sk_qgemm_n_block(isa) }

    /// Requantizing GEMM of rows of `a` (stride lda) into `c` (stride ldc), split over `pool`.
    func requant(
        m: Int, a: UnsafePointer<UInt8>, lda: Int, epilogue: UnsafePointer<sk_requant>, c: UnsafeMutablePointer<UInt8>,
        ldc: Int, pool: ThreadPool?
    ) {
        split(m: m, pool: pool) { rows, cols in
            sk_qgemm_requant(
                isa, rows.count, n, k, a + rows.lowerBound * lda, lda, storage, cols.lowerBound, cols.upperBound, epilogue,
                c + rows.lowerBound * ldc, ldc)
        }
    }

    /// Dequantizing GEMM (float out), split over `pool`.
    func dequant(
        m: Int, a: UnsafePointer<UInt8>, lda: Int, epilogue: UnsafePointer<sk_dequant>, c: UnsafeMutablePointer<Float>,
        ldc: Int, pool: ThreadPool?
    ) {
        split(m: m, pool: pool) { rows, cols in
            sk_qgemm_dequant(
                isa, rows.count, n, k, a + rows.lowerBound * lda, lda, storage, cols.lowerBound, cols.upperBound, epilogue,
                c + rows.lowerBound * ldc, ldc)
        }
    }

    /// Splits the M × N output over the pool: by rows when there are enough, else by column
    /// blocks (single samples). Each thread gets several pieces, so a thread that the OS
    /// preempts delays only its piece while the others take the rest.
    private func split(m: Int, pool: ThreadPool?, _ body: (Range<Int>, Range<Int>) -> Void) {
        let threads = pool?.threads ?? 1
        guard threads > 1, let pool, m * n * k >= 1 << 16 else {
            body(0..<m, 0..<n)
            return
        }
        let pieces = threads * ThreadPool.piecesPerThread
        if m >= 6 * pieces {
            let per = ((m + pieces - 1) / pieces + 5) / 6 * 6
            pool.run((m + per - 1) / per) { t in body((t * per)..<min(m, (t + 1) * per), 0..<n) }
        } else {
            let blocks = (n + nBlock - 1) / nBlock
            let per = (blocks + pieces - 1) / pieces * nBlock
            pool.run((n + per - 1) / per) { t in body(0..<m, (t * per)..<min(n, (t + 1) * per)) }
        }
    }
}

/// Memory aligned to 64 bytes that is freed with its owner.
final class AlignedBuffer: @unchecked Sendable {
    private(set) var pointer: UnsafeMutableRawPointer
    private(set) var byteCount: Int

    init(byteCount: Int) {
        self.byteCount = max(byteCount, 64)
        pointer = UnsafeMutableRawPointer.allocate(byteCount: self.byteCount, alignment: 64)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: self.byteCount)
    }

    /// Grows the buffer to at least `bytes` (contents are not kept).
    func reserve(_ bytes: Int) {
        guard bytes > byteCount else { return }
        pointer.deallocate()
        byteCount = bytes
        pointer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
    }

    deinit {
        pointer.deallocate()
    }
}
