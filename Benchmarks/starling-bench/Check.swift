import Foundation

/// How Starling's output on the reference batch compares with ONNX Runtime's.
struct Check: Encodable {
    /// Samples in the reference batch.
    var samples: Int
    /// Samples whose top class is the same in both.
    var argmaxAgree: Int
    /// Largest absolute difference of any output value.
    var maxAbsDiff: Float
    /// Largest absolute output value of ONNX Runtime (to judge `maxAbsDiff` against).
    var maxAbsRef: Float

    enum CodingKeys: String, CodingKey {
        case samples = "check_samples", argmaxAgree = "check_argmax_agree", maxAbsDiff = "check_max_abs_diff"
        case maxAbsRef = "check_max_abs_ref"
    }

    /// Runs the batch in `<model>.check.in.bin` (ONNX layout) and compares with `.check.out.bin`;
    /// nil when the files are missing.
    init?(modelPath: String, runner: Runner) throws {
        let stem = modelPath.hasSuffix(".onnx") ? String(modelPath.dropLast(5)) : modelPath
        guard let input = Self.floats(stem + ".check.in.bin"), let nchw = Self.floats(stem + ".check.out.bin") else {
            return nil
        }
        let perSample = runner.inputShape.reduce(1, *)
        guard perSample > 0, input.count % perSample == 0 else {
            throw BenchError("\(stem).check.in.bin does not match the model input")
        }
        let batch = input.count / perSample
        let actual = runner.run(batch: batch, input: Self.nhwc(input, batch: batch, shape: runner.inputShape))
        let expected = Self.nhwc(nchw, batch: batch, shape: runner.outputShape)
        guard actual.count == expected.count, expected.count % batch == 0 else {
            throw BenchError("the model wrote \(actual.count) values, ONNX Runtime \(expected.count)")
        }
        let width = expected.count / batch
        samples = batch
        argmaxAgree =
            (0..<batch).filter { Self.argmax(actual, row: $0, width: width) == Self.argmax(expected, row: $0, width: width) }
            .count
        maxAbsDiff = zip(actual, expected).map { abs($0 - $1) }.max() ?? 0
        maxAbsRef = expected.map(abs).max() ?? 0
    }

    /// NCHW samples as NHWC when Starling's sample shape is [H, W, C] (the importer's layout for
    /// image inputs and outputs).
    static func nhwc(_ x: [Float], batch: Int, shape: [Int]) -> [Float] {
        guard shape.count == 3 else { return x }
        let (h, w, c) = (shape[0], shape[1], shape[2])
        var y = [Float](repeating: 0, count: x.count)
        for n in 0..<batch {
            for ci in 0..<c {
                for hi in 0..<h {
                    for wi in 0..<w {
                        y[((n * h + hi) * w + wi) * c + ci] = x[((n * c + ci) * h + hi) * w + wi]
                    }
                }
            }
        }
        return y
    }

    static func argmax(_ x: [Float], row: Int, width: Int) -> Int {
        let slice = x[(row * width)..<((row + 1) * width)]
        return slice.indices.max { slice[$0] < slice[$1] }! - row * width
    }

    static func floats(_ path: String) -> [Float]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
}
