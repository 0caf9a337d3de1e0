import CKernels

extension sk_conv_geom {
    /// The kernel geometry for an NHWC `input` shape, a window and an output shape.
    init(input x: [Int], window: Window2D, outHeight: Int, outWidth: Int) {
        self.init(
            batch: x[0], in_h: x[1], in_w: x[2], in_c: x[3],
            out_h: outHeight, out_w: outWidth,
            kernel_h: window.kernel[0], kernel_w: window.kernel[1],
            stride_h: window.stride[0], stride_w: window.stride[1],
            dilation_h: window.dilation[0], dilation_w: window.dilation[1],
            pad_top: window.padding[0], pad_left: window.padding[1])
    }

    /// The geometry of `window` over NHWC `input`, with the output size it implies.
    init(input x: [Int], window: Window2D) {
        let (h, w) = window.outputSize(height: x[1], width: x[2])
        self.init(input: x, window: window, outHeight: h, outWidth: w)
    }

    /// Number of output positions (batch × height × width).
    var outputPositions: Int { batch * out_h * out_w }
}

/// Single-precision matrix multiply on Swift arrays: C = alpha·op(A)·op(B) + beta·C.
@inline(__always)
func sgemm(
    transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
    _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
    _ c: UnsafeMutablePointer<Float>, ldc: Int
) {
    if m == 0 || n == 0 { return }
    sk_sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
