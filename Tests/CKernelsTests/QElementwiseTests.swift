import CKernels
import Testing

// Int8 elementwise ops and pooling against the header's formulas written in Swift.

/// round_half_even(v) + zp clamped to [lo, hi], for any float v (NaN excluded by callers).
private func roundAndClamp(_ v: Float, _ zp: Int32, _ lo: Int32, _ hi: Int32) -> UInt8 {
    let r = v.rounded(.toNearestOrEven)
    let q = r > 1e6 ? Int64(hi) : r < -1e6 ? Int64(lo) : Int64(r) + Int64(zp)
    return UInt8(min(max(q, Int64(lo)), Int64(hi)))
}

@Test func quantizeMatchesFormula() {
    var rng = QRandom(seed: 21)
    for scale: Float in [0.5, 0.037, 1.0 / 3.0, 8] {
        let zp = Int32(rng.int(0...255))
        var x = (0..<2_000).map { _ in rng.float(-300, 300) * scale }
        // Exact ties, both signs, and values the clamp must catch.
        x += (-20...20).map { (Float($0) + 0.5) * scale }
        x += [0, -0.0, .nan, .infinity, -.infinity, 1e30, -1e30, .leastNonzeroMagnitude, 255.5 * scale]
        let input = Guarded(x), out = Guarded<UInt8>(repeating: 0, count: x.count)
        sk_quantize_u8(x.count, input.pointer, scale, zp, out.pointer)
        let q = out.array
        let want = x.map { $0.isNaN ? UInt8(zp) : roundAndClamp($0 / scale, zp, 0, 255) }
        #expect(qFirstDifference(q, want) == nil, "scale \(scale) zp \(zp)")
    }
}

@Test func dequantizeMatchesFormula() {
    let q = (0...255).map { UInt8($0) }
    for (scale, zp): (Float, Int32) in [(0.1, 128), (0.0031, 0), (2.5, 255)] {
        let input = Guarded(q), out = Guarded<Float>(repeating: 0, count: q.count)
        sk_dequantize_u8(q.count, input.pointer, scale, zp, out.pointer)
        let x = out.array
        #expect(qFirstDifference(x.map(\.bitPattern), q.map { (Float(Int32($0) - zp) * scale).bitPattern }) == nil)
    }
}

@Test func quantizedAddMatchesFormula() {
    var rng = QRandom(seed: 22)
    for (ka, kb): (Float, Float) in [(0.5, 0.5), (1.3, 0.7), (0.02, 3.1), (40, -40)] {
        let n = 3_001
        let a = rng.bytes(n), b = rng.bytes(n)
        let ga = Guarded(a), gb = Guarded(b)
        let za = Int32(rng.int(0...255)), zb = Int32(rng.int(0...255)), zo = Int32(rng.int(0...255))
        for (lo, hi): (Int32, Int32) in [(0, 255), (zo, 255), (zo, min(zo + 30, 255))] {
            let result = Guarded<UInt8>(repeating: 0, count: n)
            sk_qadd_u8(n, ga.pointer, za, ka, gb.pointer, zb, kb, zo, lo, hi, result.pointer)
            let out = result.array
            let want = (0..<n).map { i in
                roundAndClamp(Float(Int32(a[i]) - za) * ka + Float(Int32(b[i]) - zb) * kb, zo, lo, hi)
            }
            #expect(qFirstDifference(out, want) == nil, "ka \(ka) kb \(kb) clamp [\(lo), \(hi)]")
        }
    }
}

let qpoolShapes: [QConvShape] = [
    QConvShape(batch: 2, inH: 6, inW: 7, inC: 5, kH: 2, kW: 2, strideH: 2, strideW: 2),
    QConvShape(inH: 7, inW: 7, inC: 3, kH: 3, kW: 3, strideH: 2, strideW: 2, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1),
    QConvShape(
        inH: 5, inW: 6, inC: 4, kH: 3, kW: 2, strideH: 1, strideW: 2, dilH: 2, dilW: 1, padTop: 2, padLeft: 1, padBottom: 0,
        padRight: 2),
    QConvShape(inH: 3, inW: 3, inC: 2, kH: 2, kW: 2, strideH: 2, strideW: 2, padTop: 2, padLeft: 2),  // empty windows
    QConvShape(inH: 4, inW: 4, inC: 300, kH: 4, kW: 4),  // global pooling, > 256 channels
]

/// The valid input pixels of each output window, as flat NHWC indices of channel 0.
private func windows(_ s: QConvShape, _ body: (_ out: Int, _ taps: [Int]) -> Void) {
    for b in 0..<s.batch {
        for oy in 0..<s.outH {
            for ox in 0..<s.outW {
                var taps: [Int] = []
                for ky in 0..<s.kH {
                    for kx in 0..<s.kW {
                        if let (iy, ix) = s.tap(oy, ox, ky, kx) { taps.append(((b * s.inH + iy) * s.inW + ix) * s.inC) }
                    }
                }
                body(((b * s.outH + oy) * s.outW + ox) * s.inC, taps)
            }
        }
    }
}

@Test func maxPoolMatchesNaive() {
    var rng = QRandom(seed: 23)
    for s in qpoolShapes {
        var geom = s.geom
        let input = rng.bytes(s.batch * s.inH * s.inW * s.inC)
        let zp = UInt8(rng.int(1...255))
        let x = Guarded(input), result = Guarded<UInt8>(repeating: 0xAA, count: s.batch * s.outH * s.outW * s.inC)
        sk_qmaxpool_u8(&geom, x.pointer, zp, result.pointer)
        let got = result.array
        var want = got
        // A window entirely in the padding holds the zero point: real 0.0, as in sk_maxpool_f32.
        windows(s) { out, taps in
            for c in 0..<s.inC { want[out + c] = taps.map { input[$0 + c] }.max() ?? zp }
        }
        #expect(qFirstDifference(got, want) == nil, "\(s)")
    }
}

/// Max and average pooling agree with the float kernels on windows that see only padding: both
/// give real 0.0, i.e. the output zero point.
@Test func emptyPoolWindowsGiveZeroPoint() {
    let s = QConvShape(inH: 2, inW: 2, inC: 3, kH: 1, kW: 1, strideH: 1, strideW: 1, padTop: 1, padLeft: 1)
    var geom = s.geom
    let x = Guarded([UInt8](repeating: 200, count: s.inH * s.inW * s.inC))
    let n = s.outH * s.outW * s.inC
    let maxOut = Guarded<UInt8>(repeating: 0xAA, count: n), avgOut = Guarded<UInt8>(repeating: 0xAA, count: n)
    sk_qmaxpool_u8(&geom, x.pointer, 77, maxOut.pointer)
    sk_qavgpool_u8(&geom, 0, x.pointer, 77, 1, 77, avgOut.pointer)
    let fx = Guarded([Float](repeating: 9.5, count: s.inH * s.inW * s.inC))
    let fOut = Guarded<Float>(repeating: .nan, count: n)
    sk_maxpool_f32(&geom, fx.pointer, fOut.pointer, nil)
    let maxGot = maxOut.array, avgGot = avgOut.array, fGot = fOut.array
    // Output row 0 and column 0 lie in the padding; the others see one pixel.
    for oy in 0..<s.outH {
        for ox in 0..<s.outW {
            let empty = oy == 0 || ox == 0
            for c in 0..<s.inC {
                let o = (oy * s.outW + ox) * s.inC + c
                #expect(maxGot[o] == (empty ? 77 : 200), "max (\(oy), \(ox))")
                #expect(avgGot[o] == (empty ? 77 : 200), "avg (\(oy), \(ox))")
                #expect(fGot[o] == (empty ? 0 : 9.5), "float max (\(oy), \(ox))")
            }
        }
    }
    withExtendedLifetime((x, fx)) {}
}

@Test(arguments: [false, true])
func averagePoolMatchesNaive(includePad: Bool) {
    var rng = QRandom(seed: 24)
    for s in qpoolShapes {
        var geom = s.geom
        let input = rng.bytes(s.batch * s.inH * s.inW * s.inC)
        let zin = Int32(rng.int(0...255)), zout = Int32(rng.int(0...255))
        let x = Guarded(input)
        for k: Float in [1, 0.73, 2.5] {
            let out = Guarded<UInt8>(repeating: 0xAA, count: s.batch * s.outH * s.outW * s.inC)
            sk_qavgpool_u8(&geom, includePad ? 1 : 0, x.pointer, zin, k, zout, out.pointer)
            let got = out.array
            var want = got
            windows(s) { out, taps in
                let count = taps.isEmpty ? 1 : includePad ? s.kH * s.kW : taps.count
                for c in 0..<s.inC {
                    let sum = taps.reduce(Int32(0)) { $0 + Int32(input[$1 + c]) - zin }
                    want[out + c] = roundAndClamp(Float(sum) / Float(count) * k, zout, 0, 255)
                }
            }
            #expect(qFirstDifference(got, want) == nil, "\(s) k \(k) includePad \(includePad)")
        }
    }
}
