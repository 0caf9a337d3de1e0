/// A quantized model compiled for one kernel backend: a flat list of steps over numbered
/// buffers, with weights packed once. Immutable and shareable; each caller thread runs it with
/// its own `Workspace`.
///
/// Values flow as uint8 between int8 layers (activations requantized in the GEMM epilogue,
/// ReLU fused as a clamp, pooling and reshapes on uint8); a layer whose readers want float
/// (softmax, sigmoid, graph outputs) dequantizes in its epilogue instead. Ops without an int8
/// implementation run in float32 on dequantized inputs.
public final class Int8Program: @unchecked Sendable {
    /// Per buffer: element type and elements per sample.
    struct Slot {
        var isU8: Bool
        var perSample: Int
        var sampleShape: [Int]
    }

    /// The backend the weights were packed for.
    public let backend: KernelBackend
    let steps: [Step]
    let slots: [Slot]
    /// Graph inputs: name, float slot, per-sample shape.
    let inputs: [(name: String, slot: Int, shape: [Int])]
    /// Graph outputs: name, float slot, per-sample shape.
    let outputs: [(name: String, slot: Int, shape: [Int])]

    /// Compiles `model`, which must carry a quantization spec.
    public init(model: Model, backend: KernelBackend = .best) throws(ModelError) {
        guard let quantization = model.quantization else {
            throw ModelError(.invalidArgument, "the model is not quantized; run `starling model quantize` first")
        }
        guard backend.isAvailable else { throw ModelError(.invalidArgument, "backend \(backend) is not available here") }
        var compiler = try Int8Compiler(graph: model.graph, spec: quantization, backend: backend)
        try compiler.compile()
        self.backend = backend
        steps = compiler.steps
        slots = compiler.slots
        inputs = model.graph.inputs.map { ($0.name, compiler.f32Slot[$0.name]!, Array(compiler.sampleShapes[$0.name]!)) }
        outputs = model.graph.outputs.map { ($0, compiler.outputSlots[$0]!, Array(compiler.sampleShapes[$0]!)) }
    }

    /// Names of the kinds of steps, for `inspect` and tests (e.g. "dense:u8", "softmax").
    public var stepKinds: [String] {
        steps.map { step in
            switch step {
            case .quantize: "quantize"
            case .dequantize: "dequantize"
            case .dense(let d): d.inputQuant == nil ? "dense:dynamic" : (d.output.isU8 ? "dense:u8" : "dense:f32")
            case .conv(let c): c.output.isU8 ? "conv:u8" : "conv:f32"
            case .maxPool: "max_pool:u8"
            case .copy: "copy"
            case .avgPool: "avg_pool:u8"
            case .add: "add:u8"
            case .reluU8: "relu:u8"
            case .softmax: "softmax"
            case .activation(let op, _, _): op.kind
            case .generic(let g): "float:" + g.node.op.kind
            }
        }
    }
}

extension LayerOutput {
    var isU8: Bool {
        if case .u8 = self { return true }
        return false
    }
}
