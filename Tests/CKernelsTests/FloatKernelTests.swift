import CKernels
import Testing

// Float32 training kernels against naive Swift references accumulated in Double.
// Tolerances are relative to the magnitude of the terms summed (sum of |a * b|), so they do
// not depend on cancellation: a float sum of n terms is within about n * 2^-24 of exact.

/// SplitMix64: a fixed-seed generator, so every run sees the same data.
struct SplitMix64 {
  var state: UInt64

  init(seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Uniform in [-1, 1).
  mutating func float() -> Float { Float(Int64(next() >> 40) - (1 << 23)) / Float(1 << 23) }

  mutating func floats(_ n: Int) -> [Float] { (0..<n).map { _ in float() } }
}

/// `|x - y| <= tol * scale` with `scale` the size of the terms that produced x.
func close(_ x: Float, _ y: Double, scale: Double, tol: Double) -> Bool {
  abs(Double(x) - y) <= tol * scale + 1e-30
}

// MARK: - SGEMM

/// C = alpha * op(A) * op(B) + beta * C in Double; also returns the magnitude of each entry.
func referenceGemm(
  ta: Bool, tb: Bool, m: Int, n: Int, k: Int, alpha: Float, a: [Float], lda: Int, b: [Float],
  ldb: Int, beta: Float, c: [Float], ldc: Int
) -> (value: [Double], scale: [Double]) {
  var value = [Double](repeating: 0, count: m * ldc)
  var scale = [Double](repeating: 0, count: m * ldc)
  for i in 0..<m {
    for j in 0..<n {
      var s = 0.0
      var mag = 0.0
      for p in 0..<k {
        let x = Double(ta ? a[p * lda + i] : a[i * lda + p])
        let y = Double(tb ? b[j * ldb + p] : b[p * ldb + j])
        s += x * y
        mag += abs(x * y)
      }
      let old = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
      value[i * ldc + j] = Double(alpha) * s + old
      scale[i * ldc + j] = abs(Double(alpha)) * mag + abs(old)
    }
  }
  return (value, scale)
}

struct GemmCase: CustomStringConvertible, Sendable {
  var m: Int, n: Int, k: Int
  var alpha: Float = 1, beta: Float = 0
  var pad = 0  // extra elements per row in every operand
  var description: String { "\(m)x\(n)x\(k) a=\(alpha) b=\(beta) pad=\(pad)" }
}

let gemmCases: [GemmCase] = [
  GemmCase(m: 1, n: 1, k: 1),
  GemmCase(m: 3, n: 17, k: 65, pad: 3),
  GemmCase(m: 17, n: 3, k: 257, alpha: 0.5, beta: 0),
  GemmCase(m: 65, n: 33, k: 3, alpha: -1.5, beta: 0.25, pad: 1),
  GemmCase(m: 32, n: 128, k: 64),
  GemmCase(m: 32, n: 10, k: 128, beta: 1),
  GemmCase(m: 9, n: 40, k: 300, alpha: 2, beta: -1, pad: 5),  // several K blocks
  GemmCase(m: 20, n: 140, k: 30, pad: 2),  // wide enough to pack A
  GemmCase(m: 137, n: 70, k: 41, beta: 0.5, pad: 7),  // tall enough to pack B
  GemmCase(m: 300, n: 5, k: 7, pad: 1),  // several row blocks
  GemmCase(m: 3, n: 1030, k: 5),  // several column blocks
  GemmCase(m: 257, n: 1, k: 2),
  GemmCase(m: 4, n: 6, k: 0, alpha: 1, beta: 0.5),
  GemmCase(m: 5, n: 7, k: 9, alpha: 0, beta: 3),
  GemmCase(m: 3, n: 4, k: 5, alpha: 0, beta: 0),
]

@Test(arguments: gemmCases, [(false, false), (false, true), (true, false), (true, true)])
func sgemmMatchesReference(_ t: GemmCase, _ trans: (Bool, Bool)) {
  let (ta, tb) = trans
  var rng = SplitMix64(
    seed: UInt64(t.m * 1_000_003 + t.n * 1009 + t.k) ^ (ta ? 1 : 0) ^ (tb ? 2 : 0))
  let (aRows, aCols) = ta ? (t.k, t.m) : (t.m, t.k)
  let (bRows, bCols) = tb ? (t.n, t.k) : (t.k, t.n)
  let lda = aCols + t.pad
  let ldb = bCols + t.pad
  let ldc = t.n + t.pad
  let a = rng.floats(max(aRows * lda, 1))
  let b = rng.floats(max(bRows * ldb, 1))
  var c = rng.floats(t.m * ldc)
  if t.beta == 0 {
    // beta == 0 must ignore the old contents, even NaN; the padding must stay untouched.
    for i in 0..<t.m { for j in 0..<t.n { c[i * ldc + j] = .nan } }
  }
  let before = c
  let ref = referenceGemm(
    ta: ta, tb: tb, m: t.m, n: t.n, k: t.k, alpha: t.alpha, a: a, lda: lda, b: b, ldb: ldb,
    beta: t.beta, c: c, ldc: ldc)
  // A and B end at guard pages right after the last element of their last row; C after its
  // last row (padding included).
  let ga = Guarded(Array(a.prefix(aRows == 0 ? 0 : (aRows - 1) * lda + aCols)))
  let gb = Guarded(Array(b.prefix(bRows == 0 ? 0 : (bRows - 1) * ldb + bCols)))
  let gc = Guarded(c, readOnly: false)
  sk_sgemm(
    ta ? 1 : 0, tb ? 1 : 0, t.m, t.n, t.k, t.alpha, ga.pointer, lda, gb.pointer, ldb, t.beta,
    gc.pointer, ldc)
  withExtendedLifetime((ga, gb)) {}
  c = gc.array

  let tol = 1e-6 * Double(t.k + 2)
  var bad = 0
  for i in 0..<t.m {
    for j in 0..<ldc {
      let at = i * ldc + j
      if j >= t.n {
        if c[at].bitPattern != before[at].bitPattern { bad += 1 }
      } else if !close(c[at], ref.value[at], scale: ref.scale[at], tol: tol) {
        bad += 1
      }
    }
  }
  #expect(bad == 0, "\(bad) wrong entries for \(t) ta=\(ta) tb=\(tb)")
}

@Test func sgemmIsDeterministic() {
  var rng = SplitMix64(seed: 7)
  let m = 45
  let n = 77
  let k = 300
  let a = rng.floats(m * k)
  let b = rng.floats(n * k)
  var c1 = [Float](repeating: 0, count: m * n)
  var c2 = c1
  sk_sgemm(0, 1, m, n, k, 1, a, k, b, k, 0, &c1, n)
  sk_sgemm(0, 1, m, n, k, 1, a, k, b, k, 0, &c2, n)
  #expect(c1.map(\.bitPattern) == c2.map(\.bitPattern))
}

// MARK: - Geometry helpers

/// A convolution or pooling shape; the output size follows from explicit bottom/right padding.
struct ConvShape: CustomStringConvertible, Sendable {
  var batch: Int, h: Int, w: Int, c: Int
  var kernel: (Int, Int)
  var stride = (1, 1), dilation = (1, 1)
  var pad = (top: 0, left: 0, bottom: 0, right: 0)

  var geom: sk_conv_geom {
    let outH = (h + pad.top + pad.bottom - dilation.0 * (kernel.0 - 1) - 1) / stride.0 + 1
    let outW = (w + pad.left + pad.right - dilation.1 * (kernel.1 - 1) - 1) / stride.1 + 1
    return sk_conv_geom(
      batch: batch, in_h: h, in_w: w, in_c: c, out_h: outH, out_w: outW, kernel_h: kernel.0,
      kernel_w: kernel.1, stride_h: stride.0, stride_w: stride.1, dilation_h: dilation.0,
      dilation_w: dilation.1, pad_top: pad.top, pad_left: pad.left)
  }
  var inputCount: Int { batch * h * w * c }
  var description: String { "\(batch)x\(h)x\(w)x\(c) k\(kernel) s\(stride) d\(dilation) p\(pad)" }
}

let convShapes: [ConvShape] = [
  ConvShape(batch: 2, h: 7, w: 6, c: 5, kernel: (3, 3), pad: (1, 1, 1, 1)),
  ConvShape(
    batch: 1, h: 9, w: 8, c: 3, kernel: (3, 2), stride: (2, 3), dilation: (2, 1),
    pad: (2, 0, 1, 2)),
  ConvShape(batch: 3, h: 4, w: 4, c: 8, kernel: (1, 1)),
  ConvShape(batch: 1, h: 5, w: 5, c: 2, kernel: (5, 5), stride: (2, 2), pad: (2, 2, 2, 2)),
]

/// Calls `body(n, oh, ow, kh, kw, ih, iw)` for every kernel tap that lands inside the input.
func forEachTap(_ g: sk_conv_geom, _ body: (Int, Int, Int, Int, Int, Int, Int) -> Void) {
  for n in 0..<g.batch {
    for oh in 0..<g.out_h {
      for ow in 0..<g.out_w {
        for kh in 0..<g.kernel_h {
          for kw in 0..<g.kernel_w {
            let ih = oh * g.stride_h + kh * g.dilation_h - g.pad_top
            let iw = ow * g.stride_w + kw * g.dilation_w - g.pad_left
            if ih >= 0, ih < g.in_h, iw >= 0, iw < g.in_w {
              body(n, oh, ow, kh, kw, ih, iw)
            }
          }
        }
      }
    }
  }
}

func dot(_ x: [Float], _ y: [Float]) -> (value: Double, scale: Double) {
  var s = 0.0
  var mag = 0.0
  for i in 0..<x.count {
    s += Double(x[i]) * Double(y[i])
    mag += abs(Double(x[i]) * Double(y[i]))
  }
  return (s, mag)
}

// MARK: - im2col / col2im

@Test(arguments: convShapes)
func im2colAndCol2imAreAdjoint(_ shape: ConvShape) {
  var g = shape.geom
  var rng = SplitMix64(seed: 11)
  let cBegin = shape.c > 2 ? 1 : 0
  let cCount = shape.c > 2 ? shape.c - 2 : shape.c
  let rows = g.batch * g.out_h * g.out_w
  let width = g.kernel_h * g.kernel_w * cCount
  let ldr = width + 3
  let x = rng.floats(shape.inputCount)
  let y = rng.floats(rows * ldr)

  // Two row ranges must give the same rows as one; the gap past each row stays untouched.
  // Input and columns live in guarded memory.
  let gx = Guarded(x), gcols = Guarded<Float>(repeating: 42, count: rows * ldr)
  let split = rows / 3
  sk_im2col_f32(&g, cBegin, cCount, gx.pointer, 0, split, gcols.pointer, ldr)
  sk_im2col_f32(&g, cBegin, cCount, gx.pointer, split, rows, gcols.pointer + split * ldr, ldr)
  var cols = gcols.array
  var gaps = 0
  for r in 0..<rows { for j in width..<ldr where cols[r * ldr + j] != 42 { gaps += 1 } }
  #expect(gaps == 0)

  let gy = Guarded(y), gxg = Guarded<Float>(repeating: 0, count: shape.inputCount)
  sk_col2im_f32(&g, cBegin, cCount, gy.pointer, 0, rows, ldr, gxg.pointer)
  withExtendedLifetime((gx, gy)) {}
  let xg = gxg.array
  var masked = y
  for r in 0..<rows { for j in width..<ldr { masked[r * ldr + j] = 0 } }
  for r in 0..<rows { for j in width..<ldr { cols[r * ldr + j] = 0 } }
  let lhs = dot(xg, x)
  let rhs = dot(masked, cols)
  #expect(abs(lhs.value - rhs.value) <= 1e-5 * rhs.scale)
  // Channels outside [c_begin, c_begin + c_count) receive nothing.
  var outside = 0
  for i in 0..<shape.inputCount {
    let c = i % shape.c
    if (c < cBegin || c >= cBegin + cCount) && xg[i] != 0 { outside += 1 }
  }
  #expect(outside == 0)
}

@Test(arguments: convShapes)
func convolutionThroughIm2colMatchesDirect(_ shape: ConvShape) {
  var g = shape.geom
  var rng = SplitMix64(seed: 12)
  let outC = 7
  let k = g.kernel_h * g.kernel_w * shape.c
  let rows = g.batch * g.out_h * g.out_w
  let x = rng.floats(shape.inputCount)
  let w = rng.floats(outC * k)  // [oc][kh][kw][c]
  var cols = [Float](repeating: 0, count: rows * k)
  sk_im2col_f32(&g, 0, shape.c, x, 0, rows, &cols, k)
  var y = [Float](repeating: 0, count: rows * outC)
  sk_sgemm(0, 1, rows, outC, k, 1, cols, k, w, k, 0, &y, outC)

  var ref = [Double](repeating: 0, count: rows * outC)
  var mag = [Double](repeating: 0, count: rows * outC)
  forEachTap(g) { n, oh, ow, kh, kw, ih, iw in
    let p = (n * g.out_h + oh) * g.out_w + ow
    for oc in 0..<outC {
      for c in 0..<shape.c {
        let v =
          Double(x[((n * g.in_h + ih) * g.in_w + iw) * shape.c + c])
          * Double(w[((oc * g.kernel_h + kh) * g.kernel_w + kw) * shape.c + c])
        ref[p * outC + oc] += v
        mag[p * outC + oc] += abs(v)
      }
    }
  }
  let bad = (0..<y.count).filter {
    !close(y[$0], ref[$0], scale: mag[$0], tol: 1e-6 * Double(k + 2))
  }
  #expect(bad.isEmpty, "\(bad.count) wrong outputs")
}

// MARK: - Depthwise

let depthwiseCases: [(ConvShape, Int)] = [
  (convShapes[0], 1), (convShapes[1], 2), (convShapes[2], 3), (convShapes[3], 1),
]

@Test(arguments: depthwiseCases)
func depthwiseForwardAndBackwardMatchNaive(_ shape: ConvShape, _ multiplier: Int) {
  var g = shape.geom
  var rng = SplitMix64(seed: 13)
  let outC = shape.c * multiplier
  let taps = g.kernel_h * g.kernel_w
  let outCount = g.batch * g.out_h * g.out_w * outC
  let x = rng.floats(shape.inputCount)
  let w = rng.floats(taps * outC)
  let bias = rng.floats(outC)
  let gy = rng.floats(outCount)

  // Naive forward and its adjoint, in Double.
  var y = bias.map(Double.init).repeated(g.batch * g.out_h * g.out_w)
  var yScale = bias.map { abs(Double($0)) }.repeated(g.batch * g.out_h * g.out_w)
  var gx = [Double](repeating: 0, count: x.count)
  var gw = [Double](repeating: 0, count: w.count)
  var gb = [Double](repeating: 0, count: outC)
  var gxScale = gx
  var gwScale = gw
  var gbScale = gb
  for p in 0..<(g.batch * g.out_h * g.out_w) {
    for oc in 0..<outC {
      gb[oc] += Double(gy[p * outC + oc])
      gbScale[oc] += abs(Double(gy[p * outC + oc]))
    }
  }
  forEachTap(g) { n, oh, ow, kh, kw, ih, iw in
    let p = (n * g.out_h + oh) * g.out_w + ow
    for oc in 0..<outC {
      let xi = ((n * g.in_h + ih) * g.in_w + iw) * shape.c + oc / multiplier
      let wi = (kh * g.kernel_w + kw) * outC + oc
      let go = Double(gy[p * outC + oc])
      y[p * outC + oc] += Double(x[xi]) * Double(w[wi])
      yScale[p * outC + oc] += abs(Double(x[xi]) * Double(w[wi]))
      gx[xi] += go * Double(w[wi])
      gxScale[xi] += abs(go * Double(w[wi]))
      gw[wi] += go * Double(x[xi])
      gwScale[wi] += abs(go * Double(x[xi]))
    }
  }

  // Every operand in guarded memory.
  let xIn = Guarded(x), wIn = Guarded(w), biasIn = Guarded(bias), gyIn = Guarded(gy)
  let yOut = Guarded<Float>(repeating: .nan, count: outCount)
  sk_dwconv2d_f32(&g, multiplier, xIn.pointer, wIn.pointer, biasIn.pointer, yOut.pointer)
  let out = yOut.array
  let tol = 1e-6 * Double(taps + 2)
  #expect((0..<outCount).allSatisfy { close(out[$0], y[$0], scale: yScale[$0], tol: tol) })

  // Backward accumulates: start from ones and subtract them afterwards.
  let ixOut = Guarded<Float>(repeating: 1, count: x.count)
  let iwOut = Guarded<Float>(repeating: 1, count: w.count)
  let ibOut = Guarded<Float>(repeating: 1, count: outC)
  sk_dwconv2d_backward_f32(
    &g, multiplier, xIn.pointer, wIn.pointer, gyIn.pointer, ixOut.pointer, iwOut.pointer,
    ibOut.pointer)
  withExtendedLifetime((xIn, wIn, biasIn, gyIn)) {}
  let ix = ixOut.array, iw = iwOut.array, ib = ibOut.array
  let n = Double(outCount)
  #expect((0..<x.count).allSatisfy { close(ix[$0] - 1, gx[$0], scale: gxScale[$0] + 1, tol: tol) })
  #expect(
    (0..<w.count).allSatisfy { close(iw[$0] - 1, gw[$0], scale: gwScale[$0] + 1, tol: 1e-6 * n) })
  #expect(
    (0..<outC).allSatisfy { close(ib[$0] - 1, gb[$0], scale: gbScale[$0] + 1, tol: 1e-6 * n) })

  // The naive adjoint agrees with a central difference of the naive forward (it is linear
  // in x, so the difference is exact up to rounding): <gy, f(x + e_i)> - <gy, f(x - e_i)>.
  for i in stride(from: 0, to: x.count, by: max(1, x.count / 7)) {
    var fd = 0.0
    forEachTap(g) { nn, oh, ow, kh, kw, ih, iwp in
      let p = (nn * g.out_h + oh) * g.out_w + ow
      for oc in 0..<outC where ((nn * g.in_h + ih) * g.in_w + iwp) * shape.c + oc / multiplier == i
      {
        fd += Double(gy[p * outC + oc]) * Double(w[(kh * g.kernel_w + kw) * outC + oc])
      }
    }
    #expect(abs(fd - gx[i]) <= 1e-9 * (gxScale[i] + 1))
  }
}

extension Array {
  /// The array concatenated `times` times.
  func repeated(_ times: Int) -> [Element] { Array((0..<times).map { _ in self }.joined()) }
}

// MARK: - Pooling

let poolShapes: [ConvShape] = [
  ConvShape(batch: 2, h: 6, w: 7, c: 3, kernel: (2, 2), stride: (2, 2), pad: (0, 0, 0, 1)),
  ConvShape(batch: 1, h: 5, w: 5, c: 4, kernel: (3, 3), stride: (2, 2), pad: (1, 1, 1, 1)),
  ConvShape(
    batch: 1, h: 6, w: 5, c: 2, kernel: (2, 3), stride: (1, 2), dilation: (2, 1),
    pad: (1, 2, 0, 2)),
  // Kernel 1 with padding 2: the border windows see only padding.
  ConvShape(batch: 1, h: 3, w: 3, c: 2, kernel: (1, 1), pad: (2, 2, 2, 2)),
]

/// Valid flat input indices of one pooling window, and its full size.
func window(_ g: sk_conv_geom, n: Int, oh: Int, ow: Int, c: Int) -> [Int] {
  var taps: [Int] = []
  for kh in 0..<g.kernel_h {
    for kw in 0..<g.kernel_w {
      let ih = oh * g.stride_h + kh * g.dilation_h - g.pad_top
      let iw = ow * g.stride_w + kw * g.dilation_w - g.pad_left
      if ih >= 0, ih < g.in_h, iw >= 0, iw < g.in_w {
        taps.append(((n * g.in_h + ih) * g.in_w + iw) * g.in_c + c)
      }
    }
  }
  return taps
}

func forEachOutput(_ g: sk_conv_geom, _ body: (Int, [Int]) -> Void) {
  for n in 0..<g.batch {
    for oh in 0..<g.out_h {
      for ow in 0..<g.out_w {
        for c in 0..<g.in_c {
          body(
            ((n * g.out_h + oh) * g.out_w + ow) * g.in_c + c, window(g, n: n, oh: oh, ow: ow, c: c))
        }
      }
    }
  }
}

@Test(arguments: poolShapes, [false, true])
func maxPoolMatchesNaive(_ shape: ConvShape, _ ties: Bool) {
  var g = shape.geom
  var rng = SplitMix64(seed: 14)
  // With ties, the first maximum in (kh, kw) order wins, like Swift's max(by:).
  let x = rng.floats(shape.inputCount).map { ties ? ($0 * 2).rounded(.down) / 2 : $0 }
  let outCount = g.batch * g.out_h * g.out_w * g.in_c
  // Input and outputs in guarded memory.
  let input = Guarded(x), output = Guarded<Float>(repeating: .nan, count: outCount)
  let argOut = Guarded<Int32>(repeating: 99, count: outCount)
  sk_maxpool_f32(&g, input.pointer, output.pointer, argOut.pointer)
  let outputNoArg = Guarded<Float>(repeating: .nan, count: outCount)
  sk_maxpool_f32(&g, input.pointer, outputNoArg.pointer, nil)
  withExtendedLifetime(input) {}
  let y = output.array, arg = argOut.array, yNoArg = outputNoArg.array

  var expected = [Float](repeating: 0, count: outCount)
  var expectedArg = [Int32](repeating: -1, count: outCount)
  forEachOutput(g) { o, taps in
    if let best = taps.max(by: { x[$0] < x[$1] }) {
      expected[o] = x[best]
      expectedArg[o] = Int32(best)
    }
  }
  #expect(y == expected)
  #expect(yNoArg == expected)
  #expect(arg == expectedArg)
  if shape.pad.top >= shape.kernel.0 { #expect(arg.contains(-1)) }

  let outGrad = Guarded(rng.floats(outCount)), inGrad = Guarded<Float>(repeating: 0, count: x.count)
  sk_maxpool_backward_f32(outCount, argOut.pointer, outGrad.pointer, inGrad.pointer)
  let gy = outGrad.array, gx = inGrad.array
  var ref = [Float](repeating: 0, count: x.count)
  for o in 0..<outCount where expectedArg[o] >= 0 { ref[Int(expectedArg[o])] += gy[o] }
  #expect(gx == ref)
}

@Test func maxPoolPropagatesNaN() {
  var g = ConvShape(batch: 1, h: 2, w: 2, c: 1, kernel: (2, 2)).geom
  for position in 0..<4 {
    var x: [Float] = [1, 2, 3, 4]
    x[position] = .nan
    var y: [Float] = [0]
    var arg: [Int32] = [0]
    sk_maxpool_f32(&g, x, &y, &arg)
    #expect(y[0].isNaN && arg[0] == Int32(position))
  }
}

@Test(arguments: poolShapes, [false, true])
func avgPoolMatchesNaive(_ shape: ConvShape, _ includePad: Bool) {
  var g = shape.geom
  var rng = SplitMix64(seed: 15)
  let x = rng.floats(shape.inputCount)
  let outCount = g.batch * g.out_h * g.out_w * g.in_c
  let input = Guarded(x), output = Guarded<Float>(repeating: .nan, count: outCount)
  sk_avgpool_f32(&g, includePad ? 1 : 0, input.pointer, output.pointer)
  let gy = rng.floats(outCount)
  let outGrad = Guarded(gy), inGrad = Guarded<Float>(repeating: 0, count: x.count)
  sk_avgpool_backward_f32(&g, includePad ? 1 : 0, outGrad.pointer, inGrad.pointer)
  withExtendedLifetime((input, outGrad)) {}
  let y = output.array, gx = inGrad.array

  var refY = [Double](repeating: 0, count: outCount)
  var refGx = [Double](repeating: 0, count: x.count)
  forEachOutput(g) { o, taps in
    guard !taps.isEmpty else { return }
    let count = Double(includePad ? g.kernel_h * g.kernel_w : taps.count)
    refY[o] = taps.reduce(0.0) { $0 + Double(x[$1]) } / count
    for t in taps { refGx[t] += Double(gy[o]) / count }
  }
  #expect((0..<outCount).allSatisfy { close(y[$0], refY[$0], scale: 1, tol: 1e-6) })
  #expect((0..<x.count).allSatisfy { close(gx[$0], refGx[$0], scale: 1, tol: 1e-6) })
}
