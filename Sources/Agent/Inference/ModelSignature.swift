import Core

/// The protocol face of a model: which tensors a client sends and gets back, and how they map
/// onto the graph.
///
/// Clients send what training read, not what the graph reads: with a feature pipeline, the
/// numeric columns feeding one graph input form one FP32 input of that name (an image input
/// also accepts its [H, W, C] shape), and each text column (one-hot or hashed tokens) is a
/// BYTES input named after the column. Without a pipeline the graph inputs are the inputs.
/// Outputs are the graph outputs, plus `label` (BYTES, the class name of the arg max) for a
/// classifier that knows its class names.
public struct ModelSignature: Sendable {
    /// Inputs as advertised in the model metadata.
    public let inputs: [TensorSpec]
    /// Outputs as advertised in the model metadata.
    public let outputs: [TensorSpec]

    /// Where the elements of one protocol input go.
    struct InputBinding: Sendable {
        var spec: TensorSpec
        /// Per-sample shapes accepted (the advertised one first).
        var sampleShapes: [[Int]]
        /// Elements per sample.
        var width: Int
    }

    /// One graph input and the steps that fill it.
    struct FeedPlan: Sendable {
        var name: String
        var sampleShape: [Int]
        var width: Int
        var steps: [BoundStep]
    }

    /// A pipeline step (or, without a pipeline, a plain copy) with its source input.
    struct BoundStep: Sendable {
        var transform: FeatureTransform
        /// Index into `bindings`.
        var input: Int
        /// For each column the step reads, its element index within a sample of the input.
        var columns: [Int]
        /// Where the step's values start within a sample of the feed.
        var offset: Int
    }

    let bindings: [InputBinding]
    let plans: [FeedPlan]
    /// The graph outputs with their per-sample shapes.
    let graphOutputs: [(name: String, shape: [Int])]
    /// Class names for the `label` output, if the model has one.
    let classes: [String]?

    /// The name of the extra class-name output of classifiers.
    public static let labelOutputName = "label"

    /// The signature of `model`, whose compiled graph inputs and outputs are `program`'s.
    init(model: Model, program: Int8Program) throws(InferenceError) {
        let graphInputs = program.inputShapes
        var bindings: [InputBinding] = []
        var plans: [FeedPlan] = []
        if let pipeline = model.features {
            (bindings, plans) = try Self.bind(pipeline, graphInputs: graphInputs)
        } else {
            for (index, input) in graphInputs.enumerated() {
                let width = input.shape.reduce(1, *)
                bindings.append(
                    InputBinding(
                        spec: TensorSpec(name: input.name, datatype: .fp32, shape: [-1] + input.shape),
                        sampleShapes: [input.shape],
                        width: width))
                let copy = BoundStep(transform: .identity, input: index, columns: Array(0..<width), offset: 0)
                plans.append(FeedPlan(name: input.name, sampleShape: input.shape, width: width, steps: [copy]))
            }
        }
        self.bindings = bindings
        self.plans = plans
        graphOutputs = program.outputShapes
        var outputs = graphOutputs.map { TensorSpec(name: $0.name, datatype: .fp32, shape: [-1] + $0.shape) }
        if model.metadata.task == "classification", let classes = model.metadata.classes, let first = graphOutputs.first,
            first.shape == [classes.count], !outputs.contains(where: { $0.name == Self.labelOutputName })
        {
            self.classes = classes
            outputs.append(TensorSpec(name: Self.labelOutputName, datatype: .bytes, shape: [-1]))
        } else {
            classes = nil
        }
        inputs = bindings.map(\.spec)
        self.outputs = outputs
    }

    /// Binds the pipeline's raw columns to protocol inputs, one feed plan per graph input.
    private static func bind(
        _ pipeline: FeaturePipeline, graphInputs: [(name: String, shape: [Int])]
    ) throws(InferenceError) -> ([InputBinding], [FeedPlan]) {
        var bindings: [InputBinding] = []
        var numericColumns: [String: [String]] = [:]
        var bindingIndex: [String: Int] = [:]
        let shapes = Dictionary(pipeline.outputShapes.map { ($0.name, $0.shape) }, uniquingKeysWith: { a, _ in a })
        // First pass: which protocol inputs exist (numeric columns by target, text columns by name).
        for step in pipeline.steps {
            if step.transform.readsText {
                let column = step.columns[0]
                guard bindingIndex[column] == nil else { continue }
                bindingIndex[column] = bindings.count
                bindings.append(
                    InputBinding(
                        spec: TensorSpec(name: column, datatype: .bytes, shape: [-1]), sampleShapes: [[], [1]], width: 1))
            } else {
                var columns = numericColumns[step.target] ?? []
                for column in step.columns where !columns.contains(column) { columns.append(column) }
                numericColumns[step.target] = columns
                if bindingIndex[step.target] == nil {
                    bindingIndex[step.target] = bindings.count
                    bindings.append(
                        InputBinding(spec: TensorSpec(name: step.target, datatype: .fp32, shape: []), sampleShapes: [], width: 0))
                }
            }
        }
        for (index, binding) in bindings.enumerated() where binding.spec.datatype == .fp32 {
            let name = binding.spec.name
            let columns = numericColumns[name] ?? []
            if pipeline.steps.contains(where: { $0.columns.contains(name) && $0.transform.readsText }) {
                throw InferenceError(
                    .internal, "the model reads a text column named '\(name)' and numeric columns into input '\(name)'")
            }
            var sampleShapes = [[columns.count]]
            if let shape = shapes[name], shape.count > 1, shape.reduce(1, *) == columns.count {
                sampleShapes.insert(shape, at: 0)
            }
            bindings[index] = InputBinding(
                spec: TensorSpec(name: name, datatype: .fp32, shape: [-1] + sampleShapes[0]), sampleShapes: sampleShapes,
                width: columns.count)
        }
        var plans: [FeedPlan] = []
        for input in graphInputs {
            let width = input.shape.reduce(1, *)
            var offset = 0
            var steps: [BoundStep] = []
            for step in pipeline.steps where step.target == input.name {
                if step.transform.readsText {
                    steps.append(
                        BoundStep(transform: step.transform, input: bindingIndex[step.columns[0]]!, columns: [0], offset: offset))
                } else {
                    let columns = numericColumns[step.target]!
                    steps.append(
                        BoundStep(
                            transform: step.transform, input: bindingIndex[step.target]!,
                            columns: step.columns.map { columns.firstIndex(of: $0)! }, offset: offset))
                }
                offset += step.width
            }
            guard !steps.isEmpty, offset == width else {
                throw InferenceError(
                    .internal, "the feature pipeline does not fill model input '\(input.name)' (\(offset) of \(width) values)")
            }
            plans.append(FeedPlan(name: input.name, sampleShape: input.shape, width: width, steps: steps))
        }
        return (bindings, plans)
    }
}

extension FeatureTransform {
    /// Whether the step reads a text column (one string per row) rather than numbers.
    var readsText: Bool {
        switch self {
        case .oneHot, .hashTokens: true
        case .identity, .standardize, .minMax, .scale, .bucketize, .image: false
        }
    }
}
