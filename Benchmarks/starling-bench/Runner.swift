import Core

/// One imported model, ready to be called on a fixed input batch.
protocol Runner {
    /// Per-sample input shape in Starling's layout (NHWC for images).
    var inputShape: [Int] { get }
    /// Per-sample shape of the first output in Starling's layout.
    var outputShape: [Int] { get }
    /// What runs the model, e.g. `avx512vnni` or `fp32`.
    var backendName: String { get }
    /// The compiled steps (int8) or graph ops (float32), in order.
    var steps: [String] { get }
    /// Runs `batch` samples from `input` and returns the first output's values.
    func run(batch: Int, input: [Float]) -> [Float]
    /// Returns a closure that runs `batch` samples from `input` with nothing else in the loop.
    func prepare(batch: Int, input: [Float]) -> () -> Void
}

/// The int8 runtime through its fast path: one workspace, caller-owned buffers.
final class Int8Runner: Runner {
    let program: Int8Program
    let workspace: Int8Program.Workspace
    let inputShape: [Int]
    let outputShape: [Int]
    var outputCount: Int { outputShape.reduce(1, *) }
    /// Buffers for `prepare`, owned here so the timed loop touches no array.
    private var buffers: [UnsafeMutableBufferPointer<Float>] = []

    init(model: Model, backend: KernelBackend, threads: Int) throws {
        program = try Int8Program(model: model, backend: backend)
        workspace = program.makeWorkspace(threads: threads)
        inputShape = program.inputShapes[0].shape
        outputShape = program.outputShapes[0].shape
    }

    var backendName: String { program.backend.rawValue }
    var steps: [String] { program.stepKinds }

    func run(batch: Int, input: [Float]) -> [Float] {
        var output = [Float](repeating: 0, count: batch * outputCount)
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                program.run(batch: batch, input: x.baseAddress!, output: y.baseAddress!, workspace: workspace)
            }
        }
        return output
    }

    func prepare(batch: Int, input: [Float]) -> () -> Void {
        let x = UnsafeMutableBufferPointer<Float>.allocate(capacity: input.count)
        _ = x.initialize(from: input)
        let y = UnsafeMutableBufferPointer<Float>.allocate(capacity: batch * outputCount)
        y.initialize(repeating: 0)
        buffers += [x, y]
        let (program, workspace) = (program, workspace)
        return { program.run(batch: batch, input: x.baseAddress!, output: y.baseAddress!, workspace: workspace) }
    }

    deinit {
        for buffer in buffers { buffer.deallocate() }
    }
}

/// Float32 inference through `FloatRunner` (single-threaded; tensors in, tensors out).
struct Fp32Runner: Runner {
    let runner: FloatRunner
    let inputName: String
    let inputShape: [Int]
    let outputShape: [Int]

    init(model: Model) throws {
        runner = try FloatRunner(graph: model.graph)
        inputName = model.graph.inputs[0].name
        inputShape = Array(model.graph.inputs[0].shape.dropFirst())
        outputShape = Array((try model.graph.inferShapes(batch: 1))[model.graph.outputs[0]]!.dropFirst())
    }

    var backendName: String { "fp32" }
    var steps: [String] { runner.graph.nodes.map(\.op.kind) }

    func run(batch: Int, input: [Float]) -> [Float] {
        let feeds = [inputName: Tensor(shape: [batch] + inputShape, scalars: input)]
        return (try? runner.run(feeds))?.first?.scalars ?? []
    }

    func prepare(batch: Int, input: [Float]) -> () -> Void {
        let feeds = [inputName: Tensor(shape: [batch] + inputShape, scalars: input)]
        let runner = runner
        return { _ = try? runner.run(feeds) }
    }
}
