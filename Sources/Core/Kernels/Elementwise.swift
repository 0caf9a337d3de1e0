#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Float element-wise kernels on raw buffers, shared by the float graph and int8 programs.
enum Elementwise {
    /// Numerically stable softmax of each `width`-long row of `x` into `y` (may alias).
    static func softmax(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
        for r in 0..<rows {
            let xr = x + r * width
            let yr = y + r * width
            var top = -Float.infinity
            for j in 0..<width { top = max(top, xr[j]) }
            var sum: Float = 0
            for j in 0..<width {
                yr[j] = expf(xr[j] - top)
                sum += yr[j]
            }
            let inv = 1 / sum
            for j in 0..<width { yr[j] *= inv }
        }
    }

    /// ReLU, ReLU6, sigmoid or tanh of `count` values of `x` into `y` (may alias).
    static func activation(_ op: Op, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        switch op {
        case .relu: for i in 0..<count { y[i] = max(x[i], 0) }
        case .relu6: for i in 0..<count { y[i] = min(max(x[i], 0), 6) }
        case .sigmoid: for i in 0..<count { y[i] = 1 / (1 + expf(-x[i])) }
        case .tanh: for i in 0..<count { y[i] = tanhf(x[i]) }
        default: preconditionFailure("\(op.kind) is not an activation")
        }
    }
}
