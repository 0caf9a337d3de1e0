import Core
import Foundation
import Testing

@testable import ONNXImport

/// Single-op models checked against direct NCHW reference computations written here.
@Suite struct OpImportTests {
    /// Direct NCHW convolution: x [N, C, H, W], w [M, C/g, kh, kw], pads [top, left, bottom, right].
    static func conv(
        _ x: Tensor, _ w: Tensor, _ b: [Float], stride: [Int], dilation: [Int], pads: [Int], groups: Int
    ) -> Tensor {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (m, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        let oh = (h + pads[0] + pads[2] - dilation[0] * (kh - 1) - 1) / stride[0] + 1
        let ow = (wd + pads[1] + pads[3] - dilation[1] * (kw - 1) - 1) / stride[1] + 1
        var y = Tensor(shape: [n, m, oh, ow])
        for i in 0..<n {
            for o in 0..<m {
                let g = o / (m / groups)
                for p in 0..<oh {
                    for q in 0..<ow {
                        var s = b.isEmpty ? 0 : b[o]
                        for ci in 0..<cg {
                            for u in 0..<kh {
                                for v in 0..<kw {
                                    let r = p * stride[0] - pads[0] + u * dilation[0]
                                    let t = q * stride[1] - pads[1] + v * dilation[1]
                                    guard r >= 0, r < h, t >= 0, t < wd else { continue }
                                    s +=
                                        x.scalars[((i * c + g * cg + ci) * h + r) * wd + t]
                                        * w.scalars[((o * cg + ci) * kh + u) * kw + v]
                                }
                            }
                        }
                        y.scalars[((i * m + o) * oh + p) * ow + q] = s
                    }
                }
            }
        }
        return y
    }

    /// Imports `b`, feeds NCHW `x` and returns the output in ONNX (NCHW) order.
    static func runImage(_ b: ONNXBuilder, _ x: Tensor) throws -> Tensor {
        let model = try b.importModel()
        #expect(model.metadata.extra["input_layout"] == "NHWC (converted from NCHW)")
        let y = try FloatRunner(graph: model.graph).run(Check.feeds(model, [x]))[0]
        guard y.rank == 4 else { return y }
        let (n, h, w, c) = (y.shape[0], y.shape[1], y.shape[2], y.shape[3])
        var out = Tensor(shape: [n, c, h, w])
        for i in 0..<n {
            for p in 0..<(h * w) {
                for ch in 0..<c { out.scalars[(i * c + ch) * h * w + p] = y.scalars[(i * h * w + p) * c + ch] }
            }
        }
        return out
    }

    struct ConvCase: Sendable, CustomStringConvertible {
        var autoPad: String
        var pads: [Int]
        var expectedPads: [Int]
        var stride: Int
        var dilation: Int
        var groups: Int
        var outChannels: Int
        var description: String { "\(autoPad) pads \(expectedPads) stride \(stride) dilation \(dilation) groups \(groups)" }
    }

    /// Input 2×4×8×7, kernel 3×3; SAME pads for stride 2 are 1 in total per axis.
    static let convCases: [ConvCase] = [
        ConvCase(autoPad: "SAME_UPPER", pads: [], expectedPads: [0, 1, 1, 1], stride: 2, dilation: 1, groups: 1, outChannels: 3),
        ConvCase(autoPad: "SAME_LOWER", pads: [], expectedPads: [1, 1, 0, 1], stride: 2, dilation: 1, groups: 1, outChannels: 3),
        ConvCase(autoPad: "VALID", pads: [], expectedPads: [0, 0, 0, 0], stride: 1, dilation: 1, groups: 1, outChannels: 3),
        ConvCase(
            autoPad: "NOTSET", pads: [0, 1, 2, 0], expectedPads: [0, 1, 2, 0], stride: 1, dilation: 1, groups: 1, outChannels: 3),
        ConvCase(
            autoPad: "NOTSET", pads: [2, 2, 2, 2], expectedPads: [2, 2, 2, 2], stride: 1, dilation: 2, groups: 2, outChannels: 6),
        ConvCase(autoPad: "SAME_UPPER", pads: [], expectedPads: [1, 1, 1, 1], stride: 1, dilation: 1, groups: 4, outChannels: 8),
    ]

    @Test(arguments: convCases)
    func convMatchesDirectComputation(_ c: ConvCase) throws {
        var b = ONNXBuilder()
        b.input("x", [nil, 4, 8, 7])
        let wShape = [c.outChannels, 4 / c.groups, 3, 3]
        let w = Tensor(shape: wShape, scalars: testValues(wShape.reduce(1, *), seed: 7))
        let bias = testValues(c.outChannels, seed: 8)
        b.initializer("w", wShape, w.scalars)
        b.initializer("b", [c.outChannels], bias)
        var lists = ["kernel_shape": [3, 3], "strides": [c.stride, c.stride], "dilations": [c.dilation, c.dilation]]
        if !c.pads.isEmpty { lists["pads"] = c.pads }
        b.node("Conv", ["x", "w", "b"], ["y"], ints: ["group": c.groups], lists: lists, strings: ["auto_pad": c.autoPad])
        b.output("y")
        let x = Tensor(shape: [2, 4, 8, 7], scalars: testValues(2 * 4 * 8 * 7, seed: 9))
        let want = Self.conv(
            x, w, bias, stride: [c.stride, c.stride], dilation: [c.dilation, c.dilation], pads: c.expectedPads, groups: c.groups)
        let got = try Self.runImage(b, x)
        #expect(got.shape == want.shape)
        #expect(Check.compare(got, want, rtol: 1e-5, atol: 1e-6).worst <= 1)
    }

    @Test func conv1DIsAConvolutionOverOneRow() throws {
        var b = ONNXBuilder()
        b.input("x", [nil, 3, 10])
        b.initializer("w", [2, 3, 3], testValues(18, seed: 3))
        b.node("Conv", ["x", "w"], ["c"], lists: ["pads": [1, 2], "strides": [2]])
        b.node("MaxPool", ["c"], ["y"], lists: ["kernel_shape": [2], "strides": [2]])
        b.output("y")
        let model = try b.importModel()
        #expect(model.graph.inputs[0].shape == [-1, 1, 10, 3])
        #expect(model.metadata.extra["output_layout"] == "NHWC with H = 1 (converted from NCW)")
        let x = Tensor(shape: [2, 3, 10], scalars: testValues(60, seed: 4))
        let y = try FloatRunner(graph: model.graph).run(Check.feeds(model, [x]))[0]
        let conv = Self.conv(
            x.reshaped([2, 3, 1, 10]), Tensor(shape: [2, 3, 1, 3], scalars: testValues(18, seed: 3)), [], stride: [1, 2],
            dilation: [1, 1], pads: [0, 1, 0, 2], groups: 1)
        // conv is [2, 2, 1, 6]; the pool keeps positions (0,1), (2,3), (4,5).
        #expect(y.shape == [2, 1, 3, 2])
        for n in 0..<2 {
            for ch in 0..<2 {
                for p in 0..<3 {
                    let base = (n * 2 + ch) * 6 + 2 * p
                    #expect(abs(y.scalars[(n * 3 + p) * 2 + ch] - max(conv.scalars[base], conv.scalars[base + 1])) < 1e-5)
                }
            }
        }
    }

    @Test func maxPoolCeilModeKeepsPartialWindows() throws {
        var b = ONNXBuilder()
        b.input("x", [nil, 1, 5, 5])
        b.node("MaxPool", ["x"], ["y"], ints: ["ceil_mode": 1], lists: ["kernel_shape": [2, 2], "strides": [2, 2]])
        b.output("y")
        let x = Tensor(shape: [1, 1, 5, 5], scalars: (0..<25).map { Float(($0 * 7) % 25) })
        let y = try Self.runImage(b, x)
        #expect(y.shape == [1, 1, 3, 3])
        var want: [Float] = []
        for p in 0..<3 {
            for q in 0..<3 {
                var m = -Float.infinity
                for r in (2 * p)..<min(2 * p + 2, 5) {
                    for s in (2 * q)..<min(2 * q + 2, 5) { m = max(m, x.scalars[r * 5 + s]) }
                }
                want.append(m)
            }
        }
        #expect(y.scalars == want)
    }

    @Test func softmaxOverChannelsIsTheLastAxisInNHWC() throws {
        var b = ONNXBuilder()
        b.input("x", [nil, 3, 2, 2])
        b.initializer("w", [4, 3, 1, 1], testValues(12, seed: 5))
        b.node("Conv", ["x", "w"], ["c"])
        b.node("Softmax", ["c"], ["y"], ints: ["axis": 1])
        b.output("y")
        let x = Tensor(shape: [1, 3, 2, 2], scalars: testValues(12, seed: 6))
        let y = try Self.runImage(b, x)
        let c = Self.conv(
            x, Tensor(shape: [4, 3, 1, 1], scalars: testValues(12, seed: 5)), [], stride: [1, 1], dilation: [1, 1],
            pads: [0, 0, 0, 0], groups: 1)
        for p in 0..<4 {
            let logits = (0..<4).map { c.scalars[$0 * 4 + p] }
            let e = logits.map { exp($0 - logits.max()!) }
            for ch in 0..<4 { #expect(abs(y.scalars[ch * 4 + p] - e[ch] / e.reduce(0, +)) < 1e-6) }
        }
    }

    /// Before opset 13, Softmax(axis 1) of [N, 2, 3] normalizes all six values of a sample together.
    @Test func softmaxBeforeOpset13CoercesToTwoDimensions() throws {
        var b = ONNXBuilder(opset: 11)
        b.input("x", [nil, 2, 3])
        b.node("Softmax", ["x"], ["y"], ints: ["axis": 1])
        b.output("y")
        let model = try b.importModel()
        let x = Tensor(shape: [2, 2, 3], scalars: testValues(12, seed: 14))
        let y = try FloatRunner(graph: model.graph).run(["x": x])[0]
        #expect(y.shape == [2, 2, 3])
        for n in 0..<2 {
            let row = Array(x.scalars[(n * 6)..<(n * 6 + 6)])
            let e = row.map { exp($0 - row.max()!) }
            for j in 0..<6 { #expect(abs(y.scalars[n * 6 + j] - e[j] / e.reduce(0, +)) < 1e-6) }
        }
    }

    @Test func gemmHonoursAlphaBetaAndTransposes() throws {
        var b = ONNXBuilder(opset: 11)
        b.input("a", [nil, 3])
        let bm = testValues(12, seed: 11)
        let cm = testValues(4, seed: 12)
        b.initializer("b", [3, 4], bm)
        b.initializer("c", [1, 4], cm)
        b.node("Gemm", ["a", "b", "c"], ["y"], floats: ["alpha": 0.5, "beta": 2])
        b.output("y")
        let model = try b.importModel()
        let a = Tensor(shape: [2, 3], scalars: testValues(6, seed: 13))
        let y = try FloatRunner(graph: model.graph).run(["a": a])[0]
        for i in 0..<2 {
            for j in 0..<4 {
                let dot = (0..<3).reduce(Float(0)) { $0 + a.scalars[i * 3 + $1] * bm[$1 * 4 + j] }
                #expect(abs(y.scalars[i * 4 + j] - (0.5 * dot + 2 * cm[j])) < 1e-5)
            }
        }
    }

    /// ONNX's add_broadcast case holds float64 garbage beyond float32; this checks the same model on real values.
    @Test func addBroadcastConformanceModelOnFiniteValues() throws {
        let model = try ONNXImporter.importModel(
            bytes: Fixtures.modelBytes("onnx-conformance/test_operator_add_broadcast"), name: "add")
        #expect(model.graph.inputs.map(\.shape) == [[-1, 3], [3]])
        let a = Tensor(shape: [2, 3], scalars: testValues(6, seed: 21))
        let v = Tensor(shape: [3], scalars: testValues(3, seed: 22))
        let y = try FloatRunner(graph: model.graph).run(["0": a, "1": v])[0]
        #expect(y.scalars == (0..<6).map { a.scalars[$0] + v.scalars[$0 % 3] })
    }
}
