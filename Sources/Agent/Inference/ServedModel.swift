import Core

/// One loaded version of a model: the compiled int8 program, its protocol signature and its
/// micro-batcher. Requests hold on to the `ServedModel` they resolved, so a request started on
/// a version finishes on it even if another version becomes active meanwhile.
public final class ServedModel: Sendable {
    /// Model name.
    public let name: String
    /// Version string, as in `/v2/models/{name}/versions/{version}`.
    public let version: String
    /// The model's descriptive metadata.
    public let metadata: ModelMetadata
    /// Protocol inputs and outputs.
    public let signature: ModelSignature
    let program: Int8Program
    private let batcher: MicroBatcher<InferenceJob>

    /// The results of one request: every output of the signature for its rows.
    public struct Result: Sendable {
        /// The version that computed them.
        public var version: String
        /// Rows (samples) of the request.
        public var rows: Int
        /// Outputs in signature order.
        public var outputs: [InferenceTensor]
    }

    struct InferenceJob: Sendable {
        /// Graph input values in program input order.
        var feeds: [[Float]]
        var rows: Int
        var completion: @Sendable (Swift.Result<[Tensor], InferenceError>) -> Void
    }

    /// Compiles `model` (which must be quantized) for `backend`; `drift`, if given, sees every batch.
    init(
        name: String, version: String, model: Model, backend: KernelBackend, batching: BatchingConfiguration,
        metrics: ServingMetrics?, schedule: MicroBatcher<InferenceJob>.Scheduler? = nil, drift: (any DriftObserver)? = nil
    ) throws(InferenceError) {
        try batching.validate()
        let program: Int8Program
        do {
            program = try Int8Program(model: model, backend: backend)
        } catch {
            throw InferenceError(
                .invalidRequest, "model '\(name)' version \(version) cannot be served: \(error.message)", underlying: error)
        }
        self.name = name
        self.version = version
        metadata = model.metadata
        self.program = program
        signature = try ModelSignature(model: model, program: program)
        let series = metrics?.series(model: name, version: version)
        let runner = BatchRunner(program: program, signature: signature, series: series, drift: drift)
        batcher = MicroBatcher(
            configuration: batching, schedule: schedule ?? MicroBatcher<InferenceJob>.dispatchScheduler,
            execute: { runner.run($0) },
            reject: { job in
                series?.rejected.increment()
                job.completion(
                    .failure(InferenceError(.unavailable, "model '\(name)' has too many requests waiting; retry later")))
            })
    }

    /// Checks and transforms `inputs`, runs them in the next micro-batch, and calls
    /// `completion` once (on the thread that ran the batch, or at once for a bad request).
    public func infer(_ inputs: [InferenceTensor], completion: @escaping @Sendable (Swift.Result<Result, InferenceError>) -> Void)
    {
        let feeds: [[Float]]
        let rows: Int
        do {
            (feeds, rows) = try signature.feeds(from: inputs)
        } catch {
            completion(.failure(error))
            return
        }
        let version = version
        let signature = signature
        let job = InferenceJob(feeds: feeds, rows: rows) { result in
            completion(result.map { Result(version: version, rows: rows, outputs: signature.outputs(from: $0, rows: rows)) })
        }
        batcher.submit(job, rows: rows)
    }

    /// `infer(_:completion:)` for async callers.
    public func infer(_ inputs: [InferenceTensor]) async throws(InferenceError) -> Result {
        let result = await withCheckedContinuation { continuation in
            infer(inputs) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// Rows waiting in the batch queue.
    var waitingRows: Int { batcher.waitingRows }
}

/// Runs batches on one workspace. Only the batcher calls `run`, one batch at a time, which is
/// what makes the unsynchronized workspace safe.
private final class BatchRunner: @unchecked Sendable {
    let program: Int8Program
    let signature: ModelSignature
    let workspace: Int8Program.Workspace
    let series: ServingMetrics.ModelSeries?
    let drift: (any DriftObserver)?
    let clock = ContinuousClock()
    /// Per-sample shape of the only output, when the program has one input and one output
    /// (the fast path that skips named tensors).
    let singleOutputShape: [Int]?

    init(program: Int8Program, signature: ModelSignature, series: ServingMetrics.ModelSeries?, drift: (any DriftObserver)?) {
        self.program = program
        self.signature = signature
        workspace = program.makeWorkspace(threads: 1)
        self.series = series
        self.drift = drift
        singleOutputShape =
            program.inputShapes.count == 1 && program.outputShapes.count == 1 ? program.outputShapes[0].shape : nil
    }

    func run(_ jobs: [ServedModel.InferenceJob]) {
        let total = jobs.reduce(0) { $0 + $1.rows }
        let inputs = jobs.count == 1 ? jobs[0].feeds : Self.concatenate(jobs)
        let start = clock.now
        let outputs: [Tensor]
        if let shape = singleOutputShape {
            // Sizes and finiteness were checked when the feeds were made.
            var out = [Float](repeating: 0, count: total * shape.reduce(1, *))
            inputs[0].withUnsafeBufferPointer { input in
                out.withUnsafeMutableBufferPointer { output in
                    program.run(batch: total, input: input.baseAddress!, output: output.baseAddress!, workspace: workspace)
                }
            }
            outputs = [Tensor(shape: [total] + shape, scalars: out)]
        } else {
            do {
                outputs = try program.run(signature.tensors(inputs, rows: total), workspace: workspace)
            } catch {
                let failure = InferenceError(.internal, "the int8 run failed: \(error.message)", underlying: error)
                for job in jobs { job.completion(.failure(failure)) }
                return
            }
        }
        // After the results went out, so sketching adds nothing to this batch's latency.
        defer { drift?.observe(feeds: inputs, rows: total, outputs: outputs) }
        if let series {
            series.duration.record(start.duration(to: clock.now))
            series.batchSize.record(Double(total))
            series.rows.increment(by: Int64(total))
        }
        if jobs.count == 1 {
            jobs[0].completion(.success(outputs))
            return
        }
        var row = 0
        for job in jobs {
            let slices = outputs.map { $0.rows(row..<(row + job.rows)) }
            row += job.rows
            job.completion(.success(slices))
        }
    }

    /// Stacks the jobs' feeds along the batch dimension.
    private static func concatenate(_ jobs: [ServedModel.InferenceJob]) -> [[Float]] {
        (0..<jobs[0].feeds.count).map { input in
            var values: [Float] = []
            values.reserveCapacity(jobs.reduce(0) { $0 + $1.feeds[input].count })
            for job in jobs { values += job.feeds[input] }
            return values
        }
    }
}

extension ModelSignature {
    /// Protocol outputs for `rows` rows from the graph outputs, plus the class label if any.
    func outputs(from graph: [Tensor], rows: Int) -> [InferenceTensor] {
        var result: [InferenceTensor] = []
        result.reserveCapacity(outputs.count)
        for (spec, tensor) in zip(outputs, graph) {
            result.append(
                InferenceTensor(name: spec.name, datatype: .fp32, shape: tensor.shape, values: .numbers(tensor.scalars)))
        }
        if let classes, let first = graph.first {
            let labels = first.argmaxRows().map { Array(classes[$0].utf8) }
            result.append(InferenceTensor(name: Self.labelOutputName, datatype: .bytes, shape: [rows], values: .bytes(labels)))
        }
        return result
    }
}
