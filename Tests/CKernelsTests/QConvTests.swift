import CKernels
import Testing

// Int8 convolution against a naive NHWC direct convolution in Swift (Int64 sums, padding as
// zero contributions after subtracting the zero point), for every backend this CPU runs.

/// A convolution shape; the output size follows the ONNX rule with implied bottom/right padding.
struct QConvShape: CustomStringConvertible {
    var batch = 1, inH = 5, inW = 5, inC = 3, outCPerGroup = 4, groups = 1
    var kH = 3, kW = 3, strideH = 1, strideW = 1, dilH = 1, dilW = 1
    var padTop = 0, padLeft = 0, padBottom = 0, padRight = 0

    var outH: Int { (inH + padTop + padBottom - dilH * (kH - 1) - 1) / strideH + 1 }
    var outW: Int { (inW + padLeft + padRight - dilW * (kW - 1) - 1) / strideW + 1 }
    var inCPerGroup: Int { inC / groups }
    var outC: Int { outCPerGroup * groups }

    var geom: sk_conv_geom {
        sk_conv_geom(
            batch: batch, in_h: inH, in_w: inW, in_c: inC, out_h: outH, out_w: outW, kernel_h: kH,
            kernel_w: kW, stride_h: strideH, stride_w: strideW, dilation_h: dilH, dilation_w: dilW,
            pad_top: padTop, pad_left: padLeft)
    }

    var description: String {
        "N\(batch) \(inH)x\(inW)x\(inC) -> \(outH)x\(outW)x\(outC) k\(kH)x\(kW) s\(strideH),\(strideW) "
            + "d\(dilH),\(dilW) pad \(padTop),\(padLeft),\(padBottom),\(padRight) g\(groups)"
    }

    /// Input row and column of tap (ky, kx) for output (oy, ox), nil inside the padding.
    func tap(_ oy: Int, _ ox: Int, _ ky: Int, _ kx: Int) -> (Int, Int)? {
        let iy = oy * strideH + ky * dilH - padTop, ix = ox * strideW + kx * dilW - padLeft
        return iy >= 0 && iy < inH && ix >= 0 && ix < inW ? (iy, ix) : nil
    }
}

let qconvShapes: [QConvShape] = [
    QConvShape(),
    QConvShape(inH: 7, inW: 6, inC: 5, outCPerGroup: 17, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1),
    QConvShape(
        batch: 2, inH: 9, inW: 8, inC: 6, outCPerGroup: 33, strideH: 2, strideW: 2, padTop: 1, padLeft: 0, padBottom: 2,
        padRight: 1),
    QConvShape(
        inH: 10, inW: 9, inC: 4, outCPerGroup: 9, kH: 3, kW: 2, dilH: 2, dilW: 3, padTop: 2, padLeft: 1, padBottom: 0, padRight: 3
    ),
    QConvShape(inH: 6, inW: 6, inC: 8, outCPerGroup: 5, groups: 4, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1),
    QConvShape(batch: 2, inH: 5, inW: 7, inC: 12, outCPerGroup: 20, groups: 3, kH: 1, kW: 1),  // pointwise slices
    QConvShape(batch: 3, inH: 4, inW: 5, inC: 7, outCPerGroup: 70, kH: 1, kW: 1),  // pointwise, K % 4 != 0
    QConvShape(inH: 3, inW: 5, inC: 9, outCPerGroup: 6, groups: 3, kH: 1, kW: 1),  // last slice reads past
    QConvShape(inH: 4, inW: 4, inC: 64, outCPerGroup: 16, kH: 1, kW: 1),  // pointwise, K % 4 == 0
    // Pointwise rows read round_up(K, 4) bytes: with 1-3 channels (or a narrow slice at the end
    // of the tensor) the last 1-3 pixels would read past the input (a 9-byte 3x3x1 image).
    QConvShape(inH: 3, inW: 3, inC: 1, outCPerGroup: 5, kH: 1, kW: 1),
    QConvShape(batch: 2, inH: 2, inW: 3, inC: 2, outCPerGroup: 7, kH: 1, kW: 1),
    QConvShape(inH: 4, inW: 3, inC: 3, outCPerGroup: 18, kH: 1, kW: 1),
    QConvShape(inH: 1, inW: 1, inC: 1, outCPerGroup: 3, kH: 1, kW: 1),  // fewer pixels than the tail
    QConvShape(inH: 1, inW: 2, inC: 1, outCPerGroup: 20, kH: 1, kW: 1),
    QConvShape(inH: 1, inW: 1, inC: 3, outCPerGroup: 4, kH: 1, kW: 1),
    QConvShape(inH: 3, inW: 4, inC: 2, outCPerGroup: 5, groups: 2, kH: 1, kW: 1),  // 1-channel slices
    QConvShape(batch: 2, inH: 3, inW: 3, inC: 3, outCPerGroup: 4, groups: 3, kH: 1, kW: 1),
    QConvShape(inH: 2, inW: 5, inC: 6, outCPerGroup: 9, groups: 3, kH: 1, kW: 1),  // 2-channel slices
    QConvShape(inH: 5, inW: 3, inC: 10, outCPerGroup: 6, groups: 2, kH: 1, kW: 1),  // 5-channel slices
    QConvShape(inH: 6, inW: 5, inC: 1, outCPerGroup: 4, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1),
    QConvShape(inH: 5, inW: 4, inC: 2, outCPerGroup: 3, groups: 2, kH: 2, kW: 2),
    QConvShape(inH: 7, inW: 7, inC: 3, outCPerGroup: 8, kH: 1, kW: 1, strideH: 2, strideW: 2),
    QConvShape(inH: 5, inW: 5, inC: 2, outCPerGroup: 3, kH: 5, kW: 5, padTop: 4, padLeft: 4, padBottom: 4, padRight: 4),
    // Several im2col blocks: K = 576, so a 256 KiB block holds fewer rows than the 625 positions.
    QConvShape(inH: 25, inW: 25, inC: 64, outCPerGroup: 12, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1),
]

/// Runs one grouped convolution through sk_qconv2d_requant, one call per group. The input, the
/// output and the scratch (exactly sk_qconv_scratch_size bytes) end at guard pages.
func runQConv(
    _ isa: sk_isa, _ s: QConvShape, input: [UInt8], zp: UInt8, weights: [[Int8]], qbias: [Int32],
    scale: [Float], outZp: Int32, outMin: Int32
) -> [UInt8] {
    var geom = s.geom
    let m = s.batch * s.outH * s.outW, k = s.kH * s.kW * s.inCPerGroup
    let x = Guarded(input)
    let output = Guarded<UInt8>(repeating: 0, count: m * s.outC)
    for g in 0..<s.groups {
        let (packed, colsum) = QKernel.pack(isa, n: s.outCPerGroup, k: k, b: weights[g], ldb: k)
        let channels = g * s.outCPerGroup..<(g + 1) * s.outCPerGroup
        let bias = zip(channels, colsum).map { qbias[$0] - Int32(zp) * $1 }
        let groupScale = Array(scale[channels])
        let scratch = QAligned(bytes: sk_qconv_scratch_size(isa, &geom, s.inCPerGroup))
        QKernel.withRequant(bias: bias, scale: groupScale, zp: outZp, min: outMin, max: 255) { ep in
            sk_qconv2d_requant(
                isa, &geom, g * s.inCPerGroup, s.inCPerGroup, x.pointer, zp, packed.raw, s.outCPerGroup,
                ep, output.pointer, s.outC, g * s.outCPerGroup, scratch.raw)
        }
        #expect(scratch.intact, "scratch overrun \(s)")
        withExtendedLifetime(packed) {}
    }
    withExtendedLifetime(x) {}
    return output.array
}

@Test func convolutionMatchesNaive() {
    var rng = QRandom(seed: 11)
    var seen = Set<UInt8>()
    for s in qconvShapes {
        let zp = UInt8(rng.int(0...255)), outZp = Int32(rng.int(0...255))
        let outMin = rng.chance(0.5) ? outZp : 0
        let k = s.kH * s.kW * s.inCPerGroup
        let input = rng.bytes(s.batch * s.inH * s.inW * s.inC)
        let weights = (0..<s.groups).map { _ in rng.int8s(s.outCPerGroup * k) }
        let qbias = (0..<s.outC).map { _ in Int32(rng.int(-20_000...20_000)) }
        let scale = (0..<s.outC).map { _ in rng.float(0.2, 2) / (Float(k).squareRoot() * 600) }

        var want = [UInt8](repeating: 0, count: s.batch * s.outH * s.outW * s.outC)
        input.withUnsafeBufferPointer { x in
            for b in 0..<s.batch {
                for oy in 0..<s.outH {
                    for ox in 0..<s.outW {
                        let o = ((b * s.outH + oy) * s.outW + ox) * s.outC
                        for g in 0..<s.groups {
                            for n in 0..<s.outCPerGroup {
                                var acc = Int64(qbias[g * s.outCPerGroup + n])
                                for ky in 0..<s.kH {
                                    for kx in 0..<s.kW {
                                        guard let (iy, ix) = s.tap(oy, ox, ky, kx) else { continue }
                                        let px = ((b * s.inH + iy) * s.inW + ix) * s.inC + g * s.inCPerGroup
                                        let w = n * k + (ky * s.kW + kx) * s.inCPerGroup
                                        for c in 0..<s.inCPerGroup {
                                            acc += (Int64(x[px + c]) - Int64(zp)) * Int64(weights[g][w + c])
                                        }
                                    }
                                }
                                let oc = g * s.outCPerGroup + n
                                want[o + oc] = QKernel.requant(acc, scale: scale[oc], zp: outZp, min: outMin, max: 255)
                            }
                        }
                    }
                }
            }
        }
        for isa in QKernel.isas {
            let got = runQConv(
                isa, s, input: input, zp: zp, weights: weights, qbias: qbias, scale: scale,
                outZp: outZp, outMin: outMin)
            #expect(qFirstDifference(got, want) == nil, "\(String(cString: sk_isa_name(isa))) \(s)")
        }
        seen.formUnion(want)
    }
    // The outputs must spread over the uint8 range, not sit on the clamps.
    #expect(seen.count > 150)
}

@Test func im2colMatchesNaive() {
    var rng = QRandom(seed: 12)
    let s = QConvShape(
        batch: 2, inH: 6, inW: 5, inC: 7, kH: 3, kW: 2, strideH: 2, dilW: 2, padTop: 1, padLeft: 2, padBottom: 1, padRight: 0)
    var geom = s.geom
    let input = rng.bytes(s.batch * s.inH * s.inW * s.inC)
    let cBegin = 2, cCount = 4, row = s.kH * s.kW * cCount, ldr = row + 5
    let p0 = 3, p1 = s.batch * s.outH * s.outW - 2
    // Guarded input; the output ends with the last row's bytes (its gap up to ldr is not needed).
    let x = Guarded(input), cols = Guarded<UInt8>(repeating: 0xEE, count: (p1 - p0 - 1) * ldr + row)
    sk_im2col_u8(&geom, cBegin, cCount, x.pointer, p0, p1, 77, cols.pointer, ldr)
    let out = cols.array
    var want = [UInt8](repeating: 0xEE, count: out.count)
    for p in p0..<p1 {
        let b = p / (s.outH * s.outW), oy = p % (s.outH * s.outW) / s.outW, ox = p % s.outW
        for ky in 0..<s.kH {
            for kx in 0..<s.kW {
                for c in 0..<cCount {
                    let at = (p - p0) * ldr + (ky * s.kW + kx) * cCount + c
                    if let (iy, ix) = s.tap(oy, ox, ky, kx) {
                        want[at] = input[((b * s.inH + iy) * s.inW + ix) * s.inC + cBegin + c]
                    } else {
                        want[at] = 77
                    }
                }
            }
        }
    }
    #expect(qFirstDifference(out, want) == nil)
}

@Test(arguments: [1, 2, 3])
func depthwiseMatchesNaive(multiplier: Int) {
    var rng = QRandom(seed: 13 + UInt64(multiplier))
    let shapes = [
        QConvShape(batch: 2, inH: 7, inW: 6, inC: 5, kH: 3, kW: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1),
        QConvShape(
            inH: 9, inW: 8, inC: 3, kH: 3, kW: 2, strideH: 2, strideW: 3, dilH: 2, dilW: 1, padTop: 2, padLeft: 0, padBottom: 1,
            padRight: 2),
        QConvShape(inH: 3, inW: 4, inC: 300, kH: 3, kW: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1),  // > 256 channels
        QConvShape(inH: 4, inW: 3, inC: 1, kH: 2, kW: 2, padTop: 1, padLeft: 0, padBottom: 1, padRight: 1),
        QConvShape(batch: 2, inH: 3, inW: 3, inC: 17, kH: 1, kW: 1),
    ]
    for s in shapes {
        var geom = s.geom
        let oc = s.inC * multiplier, taps = s.kH * s.kW
        let zp = UInt8(rng.int(0...255)), outZp = Int32(rng.int(0...255))
        let input = rng.bytes(s.batch * s.inH * s.inW * s.inC)
        let weights = rng.int8s(taps * oc)
        let qbias = (0..<oc).map { _ in Int32(rng.int(-5_000...5_000)) }
        let scale = (0..<oc).map { _ in rng.float(0.2, 2) / 1_500 }
        let bias = (0..<oc).map { c in qbias[c] - Int32(zp) * (0..<taps).reduce(0) { $0 + Int32(weights[$1 * oc + c]) } }
        // Input, weights, epilogue and output in guarded memory.
        let x = Guarded(input), w = Guarded(weights)
        let out = Guarded<UInt8>(repeating: 0, count: s.batch * s.outH * s.outW * oc)
        QKernel.withRequant(bias: bias, scale: scale, zp: outZp, min: 0, max: 255) { ep in
            sk_qdwconv2d_requant(&geom, multiplier, x.pointer, zp, w.pointer, ep, out.pointer)
        }
        withExtendedLifetime((x, w)) {}
        let got = out.array
        var want = got
        for b in 0..<s.batch {
            for oy in 0..<s.outH {
                for ox in 0..<s.outW {
                    for c in 0..<oc {
                        var acc = Int64(qbias[c])
                        for ky in 0..<s.kH {
                            for kx in 0..<s.kW {
                                guard let (iy, ix) = s.tap(oy, ox, ky, kx) else { continue }
                                let x = Int64(input[((b * s.inH + iy) * s.inW + ix) * s.inC + c / multiplier])
                                acc += (x - Int64(zp)) * Int64(weights[(ky * s.kW + kx) * oc + c])
                            }
                        }
                        want[((b * s.outH + oy) * s.outW + ox) * oc + c] =
                            QKernel.requant(acc, scale: scale[c], zp: outZp, min: 0, max: 255)
                    }
                }
            }
        }
        #expect(qFirstDifference(got, want) == nil, "\(s) multiplier \(multiplier)")
    }
}
