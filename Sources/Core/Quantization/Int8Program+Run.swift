import CKernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension Int8Program {
    /// Buffers (and XNNPACK operator instances) for running a program on one thread at a time.
    /// Not for concurrent use: give each thread its own workspace.
    public final class Workspace {
        let program: Int8Program
        var buffers: [AlignedBuffer]
        var pointers: [UnsafeMutableRawPointer]
        var capacity = 0
        var scratch: [AlignedBuffer]
        let pool: ThreadPool?
        var xnnpack: [Int: XNNPACKConvolution] = [:]
        var xnnpackRefused = Set<Int>()

        init(program: Int8Program, threads: Int) {
            self.program = program
            buffers = program.slots.map { _ in AlignedBuffer(byteCount: 64) }
            pointers = buffers.map(\.pointer)
            pool = threads > 1 ? ThreadPool(threads: threads) : nil
            let pieces = threads > 1 ? threads * ThreadPool.piecesPerThread : 1
            scratch = (0..<pieces).map { _ in AlignedBuffer(byteCount: 64) }
        }

        /// Makes every buffer large enough for `batch` samples.
        func reserve(batch: Int) {
            guard batch > capacity else { return }
            for (i, slot) in program.slots.enumerated() {
                buffers[i].reserve(batch * slot.perSample * (slot.isU8 ? 1 : 4) + 64)
                pointers[i] = buffers[i].pointer
            }
            capacity = batch
        }

        /// Threads used by this workspace.
        public var threads: Int { pool?.threads ?? 1 }
    }

    /// A workspace for running this program, splitting large layers over `threads` threads.
    public func makeWorkspace(threads: Int = 1) -> Workspace {
        Workspace(program: self, threads: threads)
    }

    /// Per-sample shapes of the graph inputs, by name.
    public var inputShapes: [(name: String, shape: [Int])] { inputs.map { ($0.name, $0.shape) } }
    /// Per-sample shapes of the graph outputs, by name.
    public var outputShapes: [(name: String, shape: [Int])] { outputs.map { ($0.name, $0.shape) } }

    /// Runs on named input tensors ([batch, ...] each) and returns the outputs in graph order.
    public func run(_ feeds: [String: Tensor], workspace: Workspace) throws(ModelError) -> [Tensor] {
        var batch = -1
        for input in inputs {
            guard let tensor = feeds[input.name] else { throw ModelError(.invalidInput, "missing input '\(input.name)'") }
            guard Array(tensor.shape.dropFirst()) == input.shape, let n = tensor.shape.first else {
                throw ModelError(.shapeMismatch, "input '\(input.name)' has shape \(tensor.shape), the model expects [batch] + \(input.shape)")
            }
            guard batch < 0 || batch == n else { throw ModelError(.shapeMismatch, "inputs have different batch sizes") }
            guard tensor.isFinite else { throw ModelError(.nonFinite, "input '\(input.name)' holds NaN or infinity") }
            batch = n
        }
        guard batch > 0 else { return outputs.map { Tensor(shape: [0] + $0.shape) } }
        var held: [[Float]] = []
        for input in inputs { held.append(feeds[input.name]!.scalars) }
        return held.withPinnedPointers { pointers in
            execute(batch: batch, inputs: pointers, workspace: workspace)
            return outputs.map { output in
                let count = batch * output.shape.reduce(1, *)
                let source = workspace.pointers[output.slot].assumingMemoryBound(to: Float.self)
                return Tensor(shape: [batch] + output.shape, scalars: Array(UnsafeBufferPointer(start: source, count: count)))
            }
        }
    }

    /// The fast path for one input and one output: reads `batch` samples from `input` and
    /// writes the first output to `output`. The caller checks sizes and finiteness.
    public func run(batch: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, workspace: Workspace) {
        precondition(inputs.count == 1, "the fast path needs a single-input model; use run(_:workspace:)")
        execute(batch: batch, inputs: [input], workspace: workspace)
        let count = batch * outputs[0].shape.reduce(1, *)
        output.update(from: workspace.pointers[outputs[0].slot].assumingMemoryBound(to: Float.self), count: count)
    }

    private func execute(batch: Int, inputs bound: [UnsafePointer<Float>], workspace ws: Workspace) {
        precondition(ws.program === self, "the workspace belongs to another program")
        ws.reserve(batch: batch)
        for (input, pointer) in zip(inputs, bound) { ws.pointers[input.slot] = UnsafeMutableRawPointer(mutating: pointer) }
        defer { for input in inputs { ws.pointers[input.slot] = ws.buffers[input.slot].pointer } }
        for (index, step) in steps.enumerated() {
            run(step, index: index, batch: batch, ws)
        }
    }

    private func u8(_ ws: Workspace, _ slot: Int) -> UnsafeMutablePointer<UInt8> {
        ws.pointers[slot].assumingMemoryBound(to: UInt8.self)
    }

    private func f32(_ ws: Workspace, _ slot: Int) -> UnsafeMutablePointer<Float> {
        ws.pointers[slot].assumingMemoryBound(to: Float.self)
    }

    private func count(_ slot: Int, _ batch: Int) -> Int { batch * slots[slot].perSample }

    private func run(_ step: Step, index: Int, batch: Int, _ ws: Workspace) {
        switch step {
        case .quantize(let src, let dst, let q):
            sk_quantize_u8(count(src, batch), f32(ws, src), q.scale, q.zeroPoint, u8(ws, dst))
        case .dequantize(let src, let dst, let q):
            sk_dequantize_u8(count(src, batch), u8(ws, src), q.scale, q.zeroPoint, f32(ws, dst))
        case .dense(let d):
            runDense(d, index: index, batch: batch, ws)
        case .conv(let c):
            runConv(c, index: index, batch: batch, ws)
        case .maxPool(let src, let dst, var g, let zeroPoint):
            g.batch = batch
            sk_qmaxpool_u8(&g, u8(ws, src), zeroPoint, u8(ws, dst))
        case .avgPool(let src, let dst, var g, let includePad, let zin, let k, let zout):
            g.batch = batch
            sk_qavgpool_u8(&g, includePad ? 1 : 0, u8(ws, src), zin, k, zout, u8(ws, dst))
        case .copy(let src, let dst, let bytes):
            ws.pointers[dst].copyMemory(from: ws.pointers[src], byteCount: batch * bytes)
        case .add(let a, let b, let dst, let za, let ka, let zb, let kb, let zout):
            sk_qadd_u8(count(dst, batch), u8(ws, a), za, ka, u8(ws, b), zb, kb, zout, 0, 255, u8(ws, dst))
        case .reluU8(let src, let dst, let low, let high):
            let (s, d) = (u8(ws, src), u8(ws, dst))
            for i in 0..<count(src, batch) { d[i] = min(max(s[i], low), high) }
        case .softmax(let src, let dst, let width):
            Elementwise.softmax(f32(ws, src), f32(ws, dst), rows: count(src, batch) / max(width, 1), width: width)
        case .activation(let op, let src, let dst):
            Elementwise.activation(op, f32(ws, src), f32(ws, dst), count: count(src, batch))
        case .generic(let g):
            let inputs = g.inputs.map { input -> Tensor in
                switch input {
                case .constant(let t): return t
                case .slot(let slot, let shape):
                    let n = count(slot, batch)
                    return Tensor(shape: [batch] + shape, scalars: Array(UnsafeBufferPointer(start: f32(ws, slot), count: n)))
                }
            }
            // The compiler checked that every shape scales with the batch, so this cannot fail.
            guard let y = try? FloatRunner.infer(g.node, inputs) else { preconditionFailure("node '\(g.node.name)' failed at batch \(batch)") }
            y.scalars.withUnsafeBufferPointer { f32(ws, g.dst).update(from: $0.baseAddress!, count: $0.count) }
        }
    }

    // MARK: - Layers

    private func runDense(_ d: DenseStep, index: Int, batch: Int, _ ws: Workspace) {
        let (n, k) = (d.packed.n, d.packed.k)
        if d.inputQuant != nil {
            if let layer = d.xnnpack, runXNNPACK(layer, index: index, batch: batch, height: 1, width: 1, positions: batch, src: d.src, dst: d.dst, ws) {
                return
            }
            switch d.output {
            case .u8:
                withUnsafePointer(to: d.requant) { ep in
                    d.packed.requant(m: batch, a: u8(ws, d.src), lda: k, epilogue: ep, c: u8(ws, d.dst), ldc: n, pool: ws.pool)
                }
            case .f32:
                withUnsafePointer(to: d.dequant) { ep in
                    d.packed.dequant(m: batch, a: u8(ws, d.src), lda: k, epilogue: ep, c: f32(ws, d.dst), ldc: n, pool: ws.pool)
                }
            }
            return
        }
        // Dynamic: quantize this batch with its own range, then dequantize in the epilogue.
        let total = batch * k
        let x = f32(ws, d.src)
        var lo: Float = 0
        var hi: Float = 0
        for i in 0..<total {
            lo = min(lo, x[i])
            hi = max(hi, x[i])
        }
        let q = ActivationQuant.covering(lo, hi)
        ws.scratch[0].reserve(total + 64)
        let a = ws.scratch[0].pointer.assumingMemoryBound(to: UInt8.self)
        sk_quantize_u8(total, x, q.scale, q.zeroPoint, a)
        let bias = DenseStep.foldZeroPoint([Int32](repeating: 0, count: n), zeroPoint: q.zeroPoint, colsum: d.packed.colsum)
        let scale = d.weightScales.map { q.scale * $0 }
        let relu: Int32 = if case .f32(true) = d.output { 1 } else { 0 }
        bias.withUnsafeBufferPointer { b in
            scale.withUnsafeBufferPointer { s in
                let run = { (fbias: UnsafePointer<Float>?) in
                    var ep = sk_dequant(bias: b.baseAddress, scale: s.baseAddress, fbias: fbias, relu: relu)
                    d.packed.dequant(m: batch, a: a, lda: k, epilogue: &ep, c: self.f32(ws, d.dst), ldc: n, pool: ws.pool)
                }
                if let fb = d.floatBias { fb.withUnsafeBufferPointer { run($0.baseAddress) } } else { run(nil) }
            }
        }
    }

    private func runXNNPACK(
        _ layer: XNNPACKConvolution.Layer, index: Int, batch: Int, height: Int, width: Int, positions: Int, src: Int, dst: Int,
        _ ws: Workspace
    ) -> Bool {
        if ws.xnnpackRefused.contains(index) { return false }
        let op: XNNPACKConvolution
        if let existing = ws.xnnpack[index] {
            op = existing
        } else if let created = XNNPACKConvolution(layer) {
            ws.xnnpack[index] = created
            op = created
        } else {
            ws.xnnpackRefused.insert(index)
            return false
        }
        return op.run(batch: batch, height: height, width: width, outputPositions: positions, input: u8(ws, src), output: u8(ws, dst))
    }

    private func runConv(_ c: ConvStep, index: Int, batch: Int, _ ws: Workspace) {
        var g0 = c.geometry
        g0.batch = batch
        if let layer = c.xnnpack,
            runXNNPACK(layer, index: index, batch: batch, height: g0.in_h, width: g0.in_w, positions: g0.outputPositions, src: c.src, dst: c.dst, ws)
        {
            return
        }
        let inPerSample = slots[c.src].perSample
        let outPerSample = slots[c.dst].perSample
        // Several pieces per thread (each with its own scratch) balance the load under preemption.
        let pieces = ws.threads > 1 ? min(batch, ws.scratch.count) : 1
        let per = (batch + pieces - 1) / pieces
        let work = { (t: Int) in
            let lo = t * per
            guard lo < batch else { return }
            var g = g0
            g.batch = min(per, batch - lo)
            let input = self.u8(ws, c.src) + lo * inPerSample
            self.convPart(c, &g, input: input, outputOffset: lo * outPerSample, scratch: ws.scratch[t], ws)
        }
        if pieces > 1, let pool = ws.pool { pool.run((batch + per - 1) / per, work) } else { work(0) }
    }

    private func convPart(_ c: ConvStep, _ g: inout sk_conv_geom, input: UnsafePointer<UInt8>, outputOffset: Int, scratch: AlignedBuffer, _ ws: Workspace) {
        switch (c.kind, c.output) {
        case (.depthwise(let weights, let multiplier), _):
            withUnsafePointer(to: c.requant) { ep in
                sk_qdwconv2d_requant(&g, multiplier, input, UInt8(c.inputQuant.zeroPoint), weights.pointer, ep, u8(ws, c.dst) + outputOffset)
            }
        case (.grouped(let blocks), .u8):
            let cg = g.in_c / c.groups
            for (group, packed) in blocks.enumerated() {
                scratch.reserve(sk_qconv_scratch_size(packed.isa, &g, cg))
                var ep = c.requant
                ep.bias = UnsafePointer(c.bias.pointer + group * packed.n)
                ep.scale = UnsafePointer(c.scale.pointer + group * packed.n)
                sk_qconv2d_requant(
                    packed.isa, &g, group * cg, cg, input, UInt8(c.inputQuant.zeroPoint), packed.storage, packed.n, &ep,
                    u8(ws, c.dst) + outputOffset, c.outChannels, group * packed.n, scratch.pointer)
            }
        case (.grouped(let blocks), .f32):
            let cg = g.in_c / c.groups
            let m = g.outputPositions
            for (group, packed) in blocks.enumerated() {
                let lda = (packed.k + 3) / 4 * 4
                scratch.reserve(m * lda + 64)
                let cols = scratch.pointer.assumingMemoryBound(to: UInt8.self)
                sk_im2col_u8(&g, group * cg, cg, input, 0, m, UInt8(c.inputQuant.zeroPoint), cols, lda)
                var ep = c.dequant
                ep.bias = UnsafePointer(c.bias.pointer + group * packed.n)
                ep.scale = UnsafePointer(c.scale.pointer + group * packed.n)
                sk_qgemm_dequant(
                    packed.isa, m, packed.n, packed.k, cols, lda, packed.storage, 0, packed.n, &ep,
                    f32(ws, c.dst) + outputOffset + group * packed.n, c.outChannels)
            }
        }
    }
}

extension Array where Element == [Float] {
    /// Calls `body` with stable base pointers of every inner array.
    func withPinnedPointers<R>(_ body: ([UnsafePointer<Float>]) -> R) -> R {
        func recurse(_ i: Int, _ acc: [UnsafePointer<Float>]) -> R {
            if i == count { return body(acc) }
            return self[i].withUnsafeBufferPointer { recurse(i + 1, acc + [$0.baseAddress!]) }
        }
        return recurse(0, [])
    }
}
