import CKernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Float32 forward and backward implementations of each op, on top of the C kernels.
enum FloatOps {
    // MARK: - Dense

    static func dense(_ x: Tensor, _ w: Tensor, _ b: Tensor?) -> Tensor {
        let (n, inF, outF) = (x.shape[0], x.shape[1], w.shape[0])
        var y = [Float](repeating: 0, count: n * outF)
        x.scalars.withUnsafeBufferPointer { xp in
            w.scalars.withUnsafeBufferPointer { wp in
                y.withUnsafeMutableBufferPointer { yp in
                    if let b {
                        for row in 0..<n { (yp.baseAddress! + row * outF).update(from: b.scalars, count: outF) }
                    }
                    sgemm(
                        transB: true, m: n, n: outF, k: inF, xp.baseAddress!, lda: inF, wp.baseAddress!, ldb: inF,
                        beta: b == nil ? 0 : 1, yp.baseAddress!, ldc: outF)
                }
            }
        }
        return Tensor(shape: [n, outF], scalars: y)
    }

    /// Gradients of dense: (dx, dw, db).
    static func denseBackward(_ x: Tensor, _ w: Tensor, hasBias: Bool, _ dy: Tensor) -> (Tensor, Tensor, Tensor?) {
        let (n, inF, outF) = (x.shape[0], x.shape[1], w.shape[0])
        var dx = [Float](repeating: 0, count: n * inF)
        var dw = [Float](repeating: 0, count: outF * inF)
        x.scalars.withUnsafeBufferPointer { xp in
            w.scalars.withUnsafeBufferPointer { wp in
                dy.scalars.withUnsafeBufferPointer { gp in
                    dx.withUnsafeMutableBufferPointer { dxp in
                        sgemm(m: n, n: inF, k: outF, gp.baseAddress!, lda: outF, wp.baseAddress!, ldb: inF, dxp.baseAddress!, ldc: inF)
                    }
                    dw.withUnsafeMutableBufferPointer { dwp in
                        sgemm(
                            transA: true, m: outF, n: inF, k: n, gp.baseAddress!, lda: outF, xp.baseAddress!, ldb: inF,
                            dwp.baseAddress!, ldc: inF)
                    }
                }
            }
        }
        let db = hasBias ? columnSums(dy, width: outF) : nil
        return (Tensor(shape: x.shape, scalars: dx), Tensor(shape: w.shape, scalars: dw), db)
    }

    /// Sums of each column of a tensor viewed as [-1, width].
    static func columnSums(_ t: Tensor, width: Int) -> Tensor {
        var sums = [Float](repeating: 0, count: width)
        t.scalars.withUnsafeBufferPointer { p in
            sums.withUnsafeMutableBufferPointer { s in
                let rows = t.count / max(width, 1)
                for r in 0..<rows {
                    let base = p.baseAddress! + r * width
                    for j in 0..<width { s[j] += base[j] }
                }
            }
        }
        return Tensor(shape: [width], scalars: sums)
    }

    // MARK: - Convolution

    static func conv2d(_ x: Tensor, _ w: Tensor, _ b: Tensor?, window: Window2D, groups: Int) -> Tensor {
        var g = sk_conv_geom(input: x.shape, window: window)
        let outC = w.shape[0]
        let (cg, og) = (x.shape[3] / groups, outC / groups)
        let k = window.kernel[0] * window.kernel[1] * cg
        let m = g.outputPositions
        var y = [Float](repeating: 0, count: m * outC)
        var cols = [Float](repeating: 0, count: m * k)
        x.scalars.withUnsafeBufferPointer { xp in
            w.scalars.withUnsafeBufferPointer { wp in
                y.withUnsafeMutableBufferPointer { yp in
                    cols.withUnsafeMutableBufferPointer { cp in
                        for group in 0..<groups {
                            sk_im2col_f32(&g, group * cg, cg, xp.baseAddress!, 0, m, cp.baseAddress!, k)
                            sgemm(
                                transB: true, m: m, n: og, k: k, cp.baseAddress!, lda: k,
                                wp.baseAddress! + group * og * k, ldb: k, yp.baseAddress! + group * og, ldc: outC)
                        }
                    }
                    if let b { addRowBias(yp, rows: m, bias: b.scalars) }
                }
            }
        }
        return Tensor(shape: [g.batch, g.out_h, g.out_w, outC], scalars: y)
    }

    /// Gradients of conv2d: (dx, dw, db).
    static func conv2dBackward(
        _ x: Tensor, _ w: Tensor, hasBias: Bool, _ dy: Tensor, window: Window2D, groups: Int
    ) -> (Tensor, Tensor, Tensor?) {
        var g = sk_conv_geom(input: x.shape, window: window)
        let outC = w.shape[0]
        let (cg, og) = (x.shape[3] / groups, outC / groups)
        let k = window.kernel[0] * window.kernel[1] * cg
        let m = g.outputPositions
        var dx = [Float](repeating: 0, count: x.count)
        var dw = [Float](repeating: 0, count: w.count)
        var cols = [Float](repeating: 0, count: m * k)
        x.scalars.withUnsafeBufferPointer { xp in
            w.scalars.withUnsafeBufferPointer { wp in
                dy.scalars.withUnsafeBufferPointer { gp in
                    cols.withUnsafeMutableBufferPointer { cp in
                        dw.withUnsafeMutableBufferPointer { dwp in
                            dx.withUnsafeMutableBufferPointer { dxp in
                                for group in 0..<groups {
                                    sk_im2col_f32(&g, group * cg, cg, xp.baseAddress!, 0, m, cp.baseAddress!, k)
                                    sgemm(
                                        transA: true, m: og, n: k, k: m, gp.baseAddress! + group * og, lda: outC,
                                        cp.baseAddress!, ldb: k, dwp.baseAddress! + group * og * k, ldc: k)
                                    sgemm(
                                        m: m, n: k, k: og, gp.baseAddress! + group * og, lda: outC,
                                        wp.baseAddress! + group * og * k, ldb: k, cp.baseAddress!, ldc: k)
                                    sk_col2im_f32(&g, group * cg, cg, cp.baseAddress!, 0, m, k, dxp.baseAddress!)
                                }
                            }
                        }
                    }
                }
            }
        }
        let db = hasBias ? columnSums(dy, width: outC) : nil
        return (Tensor(shape: x.shape, scalars: dx), Tensor(shape: w.shape, scalars: dw), db)
    }

    static func depthwise(_ x: Tensor, _ w: Tensor, _ b: Tensor?, window: Window2D, multiplier: Int) -> Tensor {
        var g = sk_conv_geom(input: x.shape, window: window)
        let outC = x.shape[3] * multiplier
        var y = [Float](repeating: 0, count: g.outputPositions * outC)
        x.scalars.withUnsafeBufferPointer { xp in
            w.scalars.withUnsafeBufferPointer { wp in
                y.withUnsafeMutableBufferPointer { yp in
                    if let b {
                        b.scalars.withUnsafeBufferPointer { bp in
                            sk_dwconv2d_f32(&g, multiplier, xp.baseAddress!, wp.baseAddress!, bp.baseAddress!, yp.baseAddress!)
                        }
                    } else {
                        sk_dwconv2d_f32(&g, multiplier, xp.baseAddress!, wp.baseAddress!, nil, yp.baseAddress!)
                    }
                }
            }
        }
        return Tensor(shape: [g.batch, g.out_h, g.out_w, outC], scalars: y)
    }

    static func depthwiseBackward(
        _ x: Tensor, _ w: Tensor, hasBias: Bool, _ dy: Tensor, window: Window2D, multiplier: Int
    ) -> (Tensor, Tensor, Tensor?) {
        var g = sk_conv_geom(input: x.shape, window: window)
        var dx = [Float](repeating: 0, count: x.count)
        var dw = [Float](repeating: 0, count: w.count)
        var db = [Float](repeating: 0, count: hasBias ? w.shape[2] : 0)
        x.scalars.withUnsafeBufferPointer { xp in
            w.scalars.withUnsafeBufferPointer { wp in
                dy.scalars.withUnsafeBufferPointer { gp in
                    dx.withUnsafeMutableBufferPointer { dxp in
                        dw.withUnsafeMutableBufferPointer { dwp in
                            db.withUnsafeMutableBufferPointer { dbp in
                                sk_dwconv2d_backward_f32(
                                    &g, multiplier, xp.baseAddress!, wp.baseAddress!, gp.baseAddress!, dxp.baseAddress!,
                                    dwp.baseAddress!, hasBias ? dbp.baseAddress! : nil)
                            }
                        }
                    }
                }
            }
        }
        return (
            Tensor(shape: x.shape, scalars: dx), Tensor(shape: w.shape, scalars: dw),
            hasBias ? Tensor(shape: [w.shape[2]], scalars: db) : nil
        )
    }

    static func addRowBias(_ y: UnsafeMutableBufferPointer<Float>, rows: Int, bias: [Float]) {
        let width = bias.count
        bias.withUnsafeBufferPointer { bp in
            for r in 0..<rows {
                let row = y.baseAddress! + r * width
                for j in 0..<width { row[j] += bp[j] }
            }
        }
    }

    // MARK: - Pooling

    static func maxPool(_ x: Tensor, window: Window2D) -> (Tensor, [Int32]) {
        var g = sk_conv_geom(input: x.shape, window: window)
        let count = g.outputPositions * x.shape[3]
        var y = [Float](repeating: 0, count: count)
        var argmax = [Int32](repeating: -1, count: count)
        x.scalars.withUnsafeBufferPointer { xp in
            sk_maxpool_f32(&g, xp.baseAddress!, &y, &argmax)
        }
        return (Tensor(shape: [g.batch, g.out_h, g.out_w, x.shape[3]], scalars: y), argmax)
    }

    static func maxPoolBackward(inputShape: [Int], argmax: [Int32], _ dy: Tensor) -> Tensor {
        var dx = [Float](repeating: 0, count: inputShape.reduce(1, *))
        dy.scalars.withUnsafeBufferPointer { gp in
            sk_maxpool_backward_f32(argmax.count, argmax, gp.baseAddress!, &dx)
        }
        return Tensor(shape: inputShape, scalars: dx)
    }

    static func avgPool(_ x: Tensor, window: Window2D, countIncludePad: Bool) -> Tensor {
        var g = sk_conv_geom(input: x.shape, window: window)
        var y = [Float](repeating: 0, count: g.outputPositions * x.shape[3])
        x.scalars.withUnsafeBufferPointer { xp in
            sk_avgpool_f32(&g, countIncludePad ? 1 : 0, xp.baseAddress!, &y)
        }
        return Tensor(shape: [g.batch, g.out_h, g.out_w, x.shape[3]], scalars: y)
    }

    static func avgPoolBackward(inputShape: [Int], window: Window2D, countIncludePad: Bool, _ dy: Tensor) -> Tensor {
        var g = sk_conv_geom(input: inputShape, window: window)
        var dx = [Float](repeating: 0, count: inputShape.reduce(1, *))
        dy.scalars.withUnsafeBufferPointer { gp in
            sk_avgpool_backward_f32(&g, countIncludePad ? 1 : 0, gp.baseAddress!, &dx)
        }
        return Tensor(shape: inputShape, scalars: dx)
    }

    static func globalAvgPool(_ x: Tensor) -> Tensor {
        let (n, hw, c) = (x.shape[0], x.shape[1] * x.shape[2], x.shape[3])
        var y = [Float](repeating: 0, count: n * c)
        x.scalars.withUnsafeBufferPointer { xp in
            for b in 0..<n {
                for p in 0..<hw {
                    let row = xp.baseAddress! + (b * hw + p) * c
                    for ch in 0..<c { y[b * c + ch] += row[ch] }
                }
            }
        }
        let inv = 1 / Float(hw)
        for i in y.indices { y[i] *= inv }
        return Tensor(shape: [n, c], scalars: y)
    }

    static func globalAvgPoolBackward(inputShape: [Int], _ dy: Tensor) -> Tensor {
        let (n, hw, c) = (inputShape[0], inputShape[1] * inputShape[2], inputShape[3])
        var dx = [Float](repeating: 0, count: n * hw * c)
        let inv = 1 / Float(hw)
        for b in 0..<n {
            for p in 0..<hw {
                for ch in 0..<c { dx[(b * hw + p) * c + ch] = dy.scalars[b * c + ch] * inv }
            }
        }
        return Tensor(shape: inputShape, scalars: dx)
    }
}
