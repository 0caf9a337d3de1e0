import CKernels
import Testing

// Int8 GEMM: the reference against naive Swift (Int64 sums, the header's Float formula), and
// every backend this CPU runs against the reference, bit for bit.

// MARK: - Support shared by the int8 kernel tests

/// xorshift64*: fixed seeds, so every run sees the same data.
struct QRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed | 1 }

    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }

    mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) < p * Double(1 << 53) }

    /// Uniform in [lo, hi).
    mutating func float(_ lo: Float, _ hi: Float) -> Float {
        lo + (hi - lo) * Float(next() >> 40) / Float(1 << 24)
    }

    mutating func bytes(_ n: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        out.withUnsafeMutableBytes { fill($0) }
        return out
    }

    mutating func int8s(_ n: Int) -> [Int8] {
        var out = [Int8](repeating: 0, count: n)
        out.withUnsafeMutableBytes { fill($0) }
        return out
    }

    /// Eight random bytes per step: debug builds are slow per element.
    private mutating func fill(_ raw: UnsafeMutableRawBufferPointer) {
        var i = 0
        while i + 8 <= raw.count {
            raw.storeBytes(of: next(), toByteOffset: i, as: UInt64.self)
            i += 8
        }
        var v = next()
        while i < raw.count {
            raw[i] = UInt8(truncatingIfNeeded: v)
            v >>= 8
            i += 1
        }
    }
}

/// 64-byte aligned memory, as packed weights and scratch require, ending at a guard page
/// (with a canary in the few bytes the alignment leaves before it).
final class QAligned {
    let memory: GuardedBytes

    init(bytes: Int) { memory = GuardedBytes(count: bytes, alignment: 64) }

    var raw: UnsafeMutableRawPointer { memory.raw }
    /// False when something wrote past the end (into the alignment slack).
    var intact: Bool { memory.intact }
}

/// The first index where two arrays differ, as "[i]: got vs want", or nil when they are equal.
/// (Expectations on whole arrays would print megabytes when they fail.)
func qFirstDifference<T: Equatable>(_ got: [T], _ want: [T]) -> String? {
    guard got.count == want.count else { return "count \(got.count) vs \(want.count)" }
    guard let i = got.indices.first(where: { got[$0] != want[$0] }) else { return nil }
    return "[\(i)]: \(got[i]) vs \(want[i])"
}

enum QKernel {
    /// Every instruction set this CPU can run, the reference first.
    static var isas: [sk_isa] {
        (0..<SK_ISA_COUNT.rawValue).map { sk_isa(rawValue: $0) }.filter { sk_isa_available($0) != 0 }
    }

    /// B (n x k, row stride ldb) packed for `isa`, and its column sums. B is read from guarded
    /// memory holding exactly (n - 1) * ldb + k values; the packed buffer, exactly
    /// sk_qgemm_packed_size bytes, ends at a guard page and is read-only once packed.
    static func pack(_ isa: sk_isa, n: Int, k: Int, b: [Int8], ldb: Int) -> (QAligned, [Int32]) {
        let packed = QAligned(bytes: sk_qgemm_packed_size(isa, n, k))
        let colsum = Guarded<Int32>(repeating: 0x5A5A_5A5A, count: n)
        let source = Guarded(Array(b.prefix(n == 0 ? 0 : (n - 1) * ldb + k)))
        sk_qgemm_pack(isa, n, k, source.pointer, ldb, packed.raw, colsum.pointer)
        #expect(packed.intact, "pack wrote past sk_qgemm_packed_size")
        packed.memory.makeReadOnly()
        return (packed, colsum.array)
    }

    /// The header's requantization, written independently in Swift.
    static func requant(_ acc: Int64, scale: Float, zp: Int32, min: Int32, max: Int32) -> UInt8 {
        var v = Float(Int32(truncatingIfNeeded: acc)) * scale
        v = Swift.min(Swift.max(v, Float(min - zp)), Float(max - zp))
        let q = Int32(v.rounded(.toNearestOrEven)) + zp
        return UInt8(Swift.min(Swift.max(q, 0), 255))
    }

    /// Calls `body` with a requantization descriptor over guarded copies of the given arrays.
    static func withRequant<R>(
        bias: [Int32], scale: [Float], zp: Int32, min: Int32, max: Int32,
        _ body: (UnsafePointer<sk_requant>) -> R
    ) -> R {
        let b = Guarded(bias), s = Guarded(scale)
        var ep = sk_requant(bias: b.pointer, scale: s.pointer, out_zero_point: zp, out_min: min, out_max: max)
        return withExtendedLifetime((b, s)) { body(&ep) }
    }
}

// MARK: - Cases

/// One random GEMM problem with its epilogue parameters.
struct QGemmCase: CustomStringConvertible {
    var m, n, k, lda, ldb, ldc: Int
    var a: [UInt8]
    var b: [Int8]
    var bias: [Int32]
    var scale: [Float]
    var fbias: [Float]?
    var relu: Bool
    var zp, outMin, outMax: Int32

    var description: String { "M=\(m) N=\(n) K=\(k) lda=\(lda) ldc=\(ldc) zp=\(zp) [\(outMin), \(outMax)]" }

    /// Shapes and values from `rng`; `extreme` fills A and B with the largest magnitudes.
    init(_ rng: inout QRandom, m: Int, n: Int, k: Int, extreme: Bool = false) {
        self.m = m
        self.n = n
        self.k = k
        lda = (k + 3) / 4 * 4 + rng.int(0...5)
        ldb = k + rng.int(0...3)
        ldc = n + rng.int(0...3)
        if extreme {
            let high = rng.chance(0.5)
            a = [UInt8](repeating: high ? 255 : 0, count: m * lda)
            if !high { for i in 0..<m * lda where rng.chance(0.5) { a[i] = 255 } }
            let sign = rng.chance(0.5)
            b = (0..<n * ldb).map { _ in sign ? -128 : (rng.chance(0.5) ? 127 : -127) }
        } else {
            a = rng.bytes(m * lda)
            b = rng.int8s(n * ldb)
        }
        // Scales that spread outputs over the whole uint8 range, some of them exact halves.
        let spread = Float(60) / (Float(k).squareRoot() * 10_900)
        let scaleMode = rng.int(0...3)
        scale = (0..<n).map { _ in
            switch scaleMode {
            case 0: 0.5
            case 1: spread * rng.float(0.25, 4)
            case 2: spread * rng.float(0.25, 4) / 128  // huge accumulators vs the clamp
            default: spread * rng.float(0.01, 0.1) * (rng.chance(0.5) ? 1 : -1)
            }
        }
        let biasRange = Swift.max(1, k * 2_000)
        bias = (0..<n).map { _ in Int32(rng.int(-biasRange...biasRange)) }
        fbias = rng.chance(0.5) ? (0..<n).map { _ in rng.float(-5, 5) } : nil
        relu = rng.chance(0.5)
        zp = Int32(rng.int(0...255))
        outMin = rng.chance(0.5) ? zp : 0
        outMax = rng.chance(0.3) ? Int32(rng.int(Int(outMin)...255)) : 255
    }

    /// The bytes of A a GEMM may read: whole rows of lda bytes, except the last one, which
    /// the header only requires to hold round_up(K, 4) bytes.
    var aBytes: Int { (m - 1) * lda + (k + 3) / 4 * 4 }

    func naiveS32(_ i: Int, _ j: Int) -> Int64 {
        var s: Int64 = 0
        for p in 0..<k { s += Int64(a[i * lda + p]) * Int64(b[j * ldb + p]) }
        return s
    }
}

/// The three outputs of one GEMM over columns [n0, n1), written into sentinel-filled buffers.
struct QGemmOutputs {
    var s32: [Int32]
    var u8: [UInt8]
    var f32: [UInt32]  // bit patterns, so -0 and +0 differ

    /// The first difference from `want` (with the output kind), or nil when identical.
    func difference(from want: QGemmOutputs) -> String? {
        if let d = qFirstDifference(s32, want.s32) { return "s32\(d)" }
        if let d = qFirstDifference(u8, want.u8) { return "u8\(d)" }
        if let d = qFirstDifference(f32, want.f32) { return "f32 bits\(d)" }
        return nil
    }
}

/// Runs the GEMM with every operand in guarded memory: A holds exactly `aBytes` (so the last
/// row ends at the documented round_up(K, 4) minimum), bias/scale/fbias exactly N entries, and
/// the outputs end right after the last column [n0, n1) writes in the last row.
func runQGemm(_ isa: sk_isa, _ t: QGemmCase, _ n0: Int, _ n1: Int, split: Int? = nil) -> QGemmOutputs {
    let (packed, _) = QKernel.pack(isa, n: t.n, k: t.k, b: t.b, ldb: t.ldb)
    let a = Guarded(Array(t.a.prefix(t.aBytes)))
    let outCount = (t.m - 1) * t.ldc + n1
    let s32 = Guarded<Int32>(repeating: 0x5A5A_5A5A, count: outCount)
    let u8 = Guarded<UInt8>(repeating: 0xA5, count: outCount)
    let f32 = Guarded<Float>(repeating: -7.25, count: outCount)
    // The s32 pass optionally in two calls, to check that sub-ranges compose.
    let ranges = split.map { [(n0, $0), ($0, n1)] } ?? [(n0, n1)]
    for (lo, hi) in ranges {
        sk_qgemm_s32(isa, t.m, t.n, t.k, a.pointer, t.lda, packed.raw, lo, hi, s32.pointer, t.ldc)
    }
    QKernel.withRequant(bias: t.bias, scale: t.scale, zp: t.zp, min: t.outMin, max: t.outMax) {
        sk_qgemm_requant(isa, t.m, t.n, t.k, a.pointer, t.lda, packed.raw, n0, n1, $0, u8.pointer, t.ldc)
    }
    let bias = Guarded(t.bias), scale = Guarded(t.scale), fbias = t.fbias.map { Guarded($0) }
    var dq = sk_dequant(bias: bias.pointer, scale: scale.pointer, fbias: fbias?.pointer, relu: t.relu ? 1 : 0)
    sk_qgemm_dequant(isa, t.m, t.n, t.k, a.pointer, t.lda, packed.raw, n0, n1, &dq, f32.pointer, t.ldc)
    withExtendedLifetime((packed, a, bias, scale, fbias)) {}
    return QGemmOutputs(s32: s32.array, u8: u8.array, f32: f32.array.map(\.bitPattern))
}

// MARK: - Tests

@Test func isaDetection() {
    #expect(sk_isa_available(SK_ISA_REFERENCE) == 1)
    #expect(sk_isa_available(SK_ISA_COUNT) == 0)
    #expect(sk_isa_available(sk_isa_best()) == 1)
    #expect(String(cString: sk_isa_name(SK_ISA_REFERENCE)) == "reference")
    #expect(String(cString: sk_isa_name(SK_ISA_AVX2)) == "avx2")
    #expect(String(cString: sk_isa_name(SK_ISA_AVX512VNNI)) == "avx512vnni")
    for isa in QKernel.isas { #expect(sk_qgemm_n_block(isa) >= 1) }
}

@Test func referenceMatchesNaiveSwift() {
    var rng = QRandom(seed: 1)
    var seen = Set<UInt8>()
    for iteration in 0..<60 {
        let t = QGemmCase(
            &rng, m: rng.int(1...13), n: rng.int(1...40), k: rng.int(1...300),
            extreme: iteration % 7 == 0)
        let out = runQGemm(SK_ISA_REFERENCE, t, 0, t.n)
        var ok = true
        for i in 0..<t.m {
            for j in 0..<t.n {
                let acc = t.naiveS32(i, j)
                let at = i * t.ldc + j
                let withBias = acc + Int64(t.bias[j])
                let q = QKernel.requant(withBias, scale: t.scale[j], zp: t.zp, min: t.outMin, max: t.outMax)
                var f = Float(Int32(withBias)) * t.scale[j] + (t.fbias?[j] ?? 0)
                if t.relu { f = f > 0 ? f : 0 }
                ok = ok && out.s32[at] == Int32(acc) && out.u8[at] == q && out.f32[at] == f.bitPattern
                seen.insert(out.u8[at])
            }
        }
        #expect(ok, "\(t)")
    }
    // The cases must exercise the whole output range, not just the clamps.
    #expect(seen.count > 200)
}

@Test func packComputesColumnSums() {
    var rng = QRandom(seed: 2)
    for isa in QKernel.isas {
        let n = 37, k = 91, ldb = 95
        let b = rng.int8s(n * ldb)
        let (_, colsum) = QKernel.pack(isa, n: n, k: k, b: b, ldb: ldb)
        let naive = (0..<n).map { j in (0..<k).reduce(Int32(0)) { $0 + Int32(b[j * ldb + $1]) } }
        #expect(qFirstDifference(colsum, naive) == nil, "\(String(cString: sk_isa_name(isa)))")
    }
}

/// Every backend against the reference over random shapes, sub-ranges and epilogues.
@Test func backendsMatchReference() {
    var rng = QRandom(seed: 3)
    for iteration in 0..<250 {
        let k = iteration % 25 == 0 ? rng.int(1...2000) : rng.int(1...260)
        let t = QGemmCase(
            &rng, m: rng.int(1...13), n: rng.int(1...150), k: k, extreme: iteration % 9 == 0)
        for isa in QKernel.isas where isa != SK_ISA_REFERENCE {
            let block = sk_qgemm_n_block(isa)
            let n0 = rng.chance(0.5) ? rng.int(0...(t.n - 1)) / block * block : 0
            let n1 = rng.chance(0.5) ? rng.int((n0 + 1)...t.n) : t.n
            let aligned = (n0 + n1) / 2 / block * block
            let split = aligned > n0 && aligned < n1 ? aligned : nil
            let want = runQGemm(SK_ISA_REFERENCE, t, n0, n1)
            let got = runQGemm(isa, t, n0, n1, split: split)
            #expect(got.difference(from: want) == nil, "\(String(cString: sk_isa_name(isa))) \(t) n=[\(n0), \(n1))")
        }
    }
}

/// Accumulators near the int32 range: float conversion must round identically everywhere.
@Test func largeAccumulatorsMatch() {
    var rng = QRandom(seed: 4)
    for _ in 0..<12 {
        var t = QGemmCase(&rng, m: rng.int(1...8), n: rng.int(1...70), k: rng.int(1500...2000), extreme: true)
        t.bias = (0..<t.n).map { _ in Int32(rng.int(-2_000_000_000...2_000_000_000)) }
        t.scale = (0..<t.n).map { _ in rng.float(1e-8, 1e-6) }
        let want = runQGemm(SK_ISA_REFERENCE, t, 0, t.n)
        for isa in QKernel.isas where isa != SK_ISA_REFERENCE {
            #expect(runQGemm(isa, t, 0, t.n).difference(from: want) == nil, "\(String(cString: sk_isa_name(isa))) \(t)")
        }
        for i in 0..<t.m {
            for j in 0..<t.n {
                let at = i * t.ldc + j, acc = t.naiveS32(i, j)
                let q = QKernel.requant(
                    acc + Int64(t.bias[j]), scale: t.scale[j], zp: t.zp, min: t.outMin, max: t.outMax)
                #expect(want.s32[at] == Int32(acc) && want.u8[at] == q)
            }
        }
    }
}

/// Degenerate cases still agree across backends: NaN and infinite scales, zero scales, clamp
/// bounds given in the wrong order (the reference then always yields out_max), and K = 0.
@Test func degenerateEpiloguesMatch() {
    var rng = QRandom(seed: 6)
    let specials: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, 1e30, -1e30, .leastNonzeroMagnitude]
    for iteration in 0..<16 {
        var t = QGemmCase(&rng, m: rng.int(1...7), n: rng.int(1...80), k: iteration % 4 == 0 ? 0 : rng.int(1...50))
        t.scale = (0..<t.n).map { _ in rng.chance(0.5) ? specials[rng.int(0...(specials.count - 1))] : 0.01 }
        if iteration % 2 == 1 { (t.outMin, t.outMax) = (Int32(rng.int(100...255)), Int32(rng.int(0...99))) }
        let want = runQGemm(SK_ISA_REFERENCE, t, 0, t.n)
        for isa in QKernel.isas where isa != SK_ISA_REFERENCE {
            #expect(runQGemm(isa, t, 0, t.n).difference(from: want) == nil, "\(String(cString: sk_isa_name(isa))) \(t)")
        }
    }
}

/// Single rows (the latency path with several K chains) and K exactly at chain boundaries.
@Test func singleRowsMatch() {
    var rng = QRandom(seed: 5)
    for k in [1, 3, 4, 5, 15, 16, 17, 31, 32, 33, 63, 64, 65, 1023, 1024, 1025] {
        let t = QGemmCase(&rng, m: 1, n: rng.int(60...140), k: k)
        let want = runQGemm(SK_ISA_REFERENCE, t, 0, t.n)
        for isa in QKernel.isas where isa != SK_ISA_REFERENCE {
            #expect(runQGemm(isa, t, 0, t.n).difference(from: want) == nil, "\(String(cString: sk_isa_name(isa))) \(t)")
        }
    }
}

/// lda exactly round_up(K, 4), the documented minimum, with A ending at a guard page right after
/// the last row's padding bytes: a backend reading any further faults. The padding bytes hold
/// random values (they meet zero weights), and every backend must still be exact.
@Test func minimumLdaStaysInBounds() {
    var rng = QRandom(seed: 7)
    for k in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 17, 31, 33, 63, 65, 129, 255, 257, 1025] {
        for m in [1, 2, 3, 4, 5, 6, 7, 13] {
            var t = QGemmCase(&rng, m: m, n: rng.int(1...70), k: k)
            t.lda = (k + 3) / 4 * 4
            t.a = rng.bytes(t.m * t.lda)
            #expect(t.aBytes == t.m * t.lda)
            let want = runQGemm(SK_ISA_REFERENCE, t, 0, t.n)
            let exact = (0..<t.m).allSatisfy { i in
                (0..<t.n).allSatisfy { j in want.s32[i * t.ldc + j] == Int32(t.naiveS32(i, j)) }
            }
            #expect(exact, "reference \(t)")
            for isa in QKernel.isas where isa != SK_ISA_REFERENCE {
                #expect(runQGemm(isa, t, 0, t.n).difference(from: want) == nil, "\(String(cString: sk_isa_name(isa))) \(t)")
            }
        }
    }
}
