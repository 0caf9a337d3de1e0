import Testing

@testable import Core

@Suite("int8 quantization and kernel backends")
struct QuantizationTests {
    /// A CNN touching every int8 op: grouped and depthwise convolutions, ReLU/ReLU6 fusion,
    /// max and average pooling, a residual add, global pooling and dense layers.
    static func cnn(seed: UInt64 = 11) -> Graph {
        var random = RandomSource(seed: seed)
        func tensor(_ shape: [Int], _ scale: Float = 0.5) -> Tensor {
            Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in random.uniform(-scale, scale) })
        }
        let same3 = Window2D.square(3, same: true)
        let nodes = [
            Node(name: "c1", op: .conv2d(window: Window2D(kernel: [3, 3], stride: [2, 2], padding: [1, 1, 1, 1]), groups: 1), inputs: ["input", "c1.w", "c1.b"], output: "c1"),
            Node(name: "r1", op: .relu, inputs: ["c1"], output: "r1"),
            Node(name: "g2", op: .conv2d(window: same3, groups: 2), inputs: ["r1", "g2.w", "g2.b"], output: "g2"),
            Node(name: "r2", op: .relu6, inputs: ["g2"], output: "r2"),
            Node(name: "d3", op: .depthwiseConv2d(window: same3, multiplier: 1), inputs: ["r2", "d3.w", "d3.b"], output: "d3"),
            Node(name: "r3", op: .relu, inputs: ["d3"], output: "r3"),
            Node(name: "res", op: .add, inputs: ["r3", "r2"], output: "res"),
            Node(name: "mp", op: .maxPool(window: .square(2, stride: 2)), inputs: ["res"], output: "mp"),
            Node(name: "ap", op: .avgPool(window: Window2D(kernel: [2, 2], padding: [0, 0, 1, 1]), countIncludePad: false), inputs: ["mp"], output: "ap"),
            Node(name: "pw", op: .conv2d(window: Window2D(kernel: [1, 1]), groups: 1), inputs: ["ap", "pw.w"], output: "pw"),
            Node(name: "gap", op: .globalAvgPool, inputs: ["pw"], output: "gap"),
            Node(name: "fc1", op: .dense, inputs: ["gap", "fc1.w", "fc1.b"], output: "fc1"),
            Node(name: "fr", op: .relu, inputs: ["fc1"], output: "fr"),
            Node(name: "fc2", op: .dense, inputs: ["fr", "fc2.w", "fc2.b"], output: "fc2"),
            Node(name: "sm", op: .softmax, inputs: ["fc2"], output: "probabilities"),
        ]
        let initializers: [String: Tensor] = [
            "c1.w": tensor([8, 3, 3, 3]), "c1.b": tensor([8], 0.1),
            "g2.w": tensor([8, 3, 3, 4]), "g2.b": tensor([8], 0.1),
            "d3.w": tensor([3, 3, 8]), "d3.b": tensor([8], 0.1),
            "pw.w": tensor([12, 1, 1, 8]),
            "fc1.w": tensor([16, 12]), "fc1.b": tensor([16], 0.1),
            "fc2.w": tensor([5, 16]), "fc2.b": tensor([5], 0.1),
        ]
        return Graph(
            inputs: [ValueSpec(name: "input", shape: [-1, 12, 12, 3])], outputs: ["probabilities"], nodes: nodes,
            initializers: initializers)
    }

    static func images(_ n: Int, seed: UInt64) -> Tensor {
        var random = RandomSource(seed: seed)
        return Tensor(shape: [n, 12, 12, 3], scalars: (0..<(n * 432)).map { _ in random.uniform(-1, 1) })
    }

    static func quantizedCNN() throws -> Model {
        let model = Model(metadata: ModelMetadata(name: "cnn"), graph: cnn())
        return try Quantizer().quantize(model, calibrationFeeds: ["input": images(64, seed: 1)])
    }

    @Test("the CNN compiles to uint8 steps end to end")
    func compiledSteps() throws {
        let program = try Int8Program(model: try Self.quantizedCNN(), backend: .reference)
        #expect(program.stepKinds == [
            "quantize", "conv:u8", "conv:u8", "conv:u8", "add:u8", "max_pool:u8", "avg_pool:u8", "conv:u8", "avg_pool:u8",
            "dense:u8", "dense:f32", "softmax",
        ])
    }

    @Test("every backend gives bit-identical outputs to the C reference, at every batch size")
    func backendsAgreeExactly() throws {
        let model = try Self.quantizedCNN()
        let reference = try Int8Program(model: model, backend: .reference)
        let refWorkspace = reference.makeWorkspace()
        for backend in KernelBackend.available where backend != .reference {
            let program = try Int8Program(model: model, backend: backend)
            for threads in [1, 2] {
                let ws = program.makeWorkspace(threads: threads)
                for batch in [1, 3, 17] {
                    let x = ["input": Self.images(batch, seed: UInt64(batch))]
                    let expected = try reference.run(x, workspace: refWorkspace)
                    #expect(try program.run(x, workspace: ws) == expected, "\(backend), \(threads) thread(s), batch \(batch)")
                }
                if backend == .xnnpack {
                    #expect(ws.xnnpack.count >= 4, "XNNPACK ran \(ws.xnnpack.count) layers; refused: \(ws.xnnpackRefused)")
                }
            }
        }
    }

    @Test("int8 outputs stay close to float32 and agree on the argmax")
    func closeToFloat() throws {
        let model = try Self.quantizedCNN()
        let x = ["input": Self.images(100, seed: 99)]
        let float = try FloatRunner(graph: model.graph).run(x)[0]
        let program = try Int8Program(model: model)
        let int8 = try program.run(x, workspace: program.makeWorkspace())[0]
        let maxError = zip(float.scalars, int8.scalars).map { abs($0 - $1) }.max()!
        let agree = zip(float.argmaxRows(), int8.argmaxRows()).filter { $0 == $1 }.count
        #expect(maxError < 0.05, "max |float - int8| = \(maxError)")
        #expect(agree >= 95, "argmax agreement \(agree)/100")
    }

    @Test("dynamic quantization (no calibration) tracks the float model")
    func dynamic() throws {
        let (train, test) = TestSupport.digits
        let pipeline = try FeatureRecipe(scaling: .divide(16)).fit(train.features)
        var graph = try ModelBuilder.build(.mlp(hidden: [64]), inputShape: [64], outputs: 10, seed: 3)
        let encoder = ClassEncoder(fitting: train.labels)
        try Trainer(config: TrainingConfig(epochs: 10, optimizer: .adam(learningRate: 3e-3), seed: 3))
            .fit(&graph, feeds: try pipeline.transform(train.features), targets: .classes(try encoder.encode(train.labels)))
        let model = try Quantizer().quantize(Model(metadata: ModelMetadata(name: "d"), features: pipeline, graph: graph))
        #expect(model.quantization?.mode == .dynamic)
        let xt = try pipeline.transform(test.features)
        let float = try FloatRunner(graph: graph).run(xt)[0]
        for backend in KernelBackend.available {
            let program = try Int8Program(model: model, backend: backend)
            #expect(program.stepKinds == ["dense:dynamic", "dense:dynamic", "softmax"])
            let int8 = try program.run(xt, workspace: program.makeWorkspace())[0]
            let agree = zip(float.argmaxRows(), int8.argmaxRows()).filter { $0 == $1 }.count
            #expect(Double(agree) / 360 >= 0.99, "\(backend): \(agree)/360")
        }
    }

    @Test("percentile calibration narrows ranges with outliers")
    func percentile() throws {
        var x = Self.images(64, seed: 1)
        x.scalars[0] = 50
        let model = Model(metadata: ModelMetadata(name: "cnn"), graph: Self.cnn())
        let minmax = try Quantizer(calibration: .minMax).quantize(model, calibrationFeeds: ["input": x])
        let pct = try Quantizer(calibration: .percentile(99.9)).quantize(model, calibrationFeeds: ["input": x])
        let a = minmax.quantization!.activations["input"]!
        let b = pct.quantization!.activations["input"]!
        #expect(a.scale > 50 / 255 * 0.99)
        #expect(b.scale < a.scale / 10, "percentile scale \(b.scale) vs min/max \(a.scale)")
        #expect(pct.quantization!.calibration?.percentile == 99.9)
    }

    @Test("per-channel weight quantization is symmetric and within half a step")
    func weights() {
        var random = RandomSource(seed: 4)
        let w = Tensor(shape: [3, 5], scalars: (0..<15).map { i in random.uniform(-1, 1) * Float(i / 5 + 1) })
        let q = QuantizedWeight.quantizing(w, axis: 0)
        #expect(q.scales.count == 3)
        for c in 0..<3 {
            let row = q.values[(c * 5)..<(c * 5 + 5)]
            #expect(row.map { abs(Int($0)) }.max() == 127)
        }
        let back = q.dequantized()
        for i in 0..<15 { #expect(abs(back.scalars[i] - w.scalars[i]) <= q.scales[i / 5] / 2 + 1e-6) }
    }

    @Test("activation parameters include zero and round-trip real zero exactly")
    func activationParams() {
        let q = ActivationQuant.covering(0.5, 3)
        #expect(q.zeroPoint == 0)
        #expect(q.dequantize(q.quantize(0)) == 0)
        let r = ActivationQuant.covering(-1, 3)
        #expect(r.dequantize(r.quantize(0)) == 0)
        #expect(r.quantize(100) == 255 && r.quantize(-100) == 0)
    }

    @Test("the int8 program refuses wrong input shapes and NaN")
    func badInput() throws {
        let program = try Int8Program(model: try Self.quantizedCNN())
        let ws = program.makeWorkspace()
        #expect(throws: ModelError.self) { try program.run(["input": Tensor(shape: [1, 12, 12, 4])], workspace: ws) }
        #expect(throws: ModelError.self) { try program.run(["other": Tensor(shape: [1, 12, 12, 3])], workspace: ws) }
        var x = Self.images(1, seed: 1)
        x.scalars[5] = .nan
        #expect { try program.run(["input": x], workspace: ws) } throws: { ($0 as? ModelError)?.code == .nonFinite }
        #expect(throws: ModelError.self) { try Int8Program(model: Model(metadata: ModelMetadata(name: "f"), graph: Self.cnn())) }
    }

    @Test("convolutions and pooling after a reshape use the reshaped geometry")
    func reshapeThenConv() throws {
        var random = RandomSource(seed: 21)
        func tensor(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in random.uniform(-0.5, 0.5) })
        }
        // global pool → [N, 6] → reshape [N, 1, 1, 6] → 1×1 conv (a squeeze-excite style head),
        // and flatten → reshape [N, 2, 3, 4] → max pool.
        let nodes = [
            Node(name: "c", op: .conv2d(window: .square(3, same: true), groups: 1), inputs: ["input", "c.w"], output: "c"),
            Node(name: "gap", op: .globalAvgPool, inputs: ["c"], output: "gap"),
            Node(name: "r", op: .reshape(shape: [0, 1, 1, 6]), inputs: ["gap"], output: "r"),
            Node(name: "pw", op: .conv2d(window: Window2D(kernel: [1, 1]), groups: 1), inputs: ["r", "pw.w", "pw.b"], output: "pw"),
            Node(name: "f", op: .flatten, inputs: ["pw"], output: "f"),
            Node(name: "r2", op: .reshape(shape: [-1, 2, 3, 4]), inputs: ["f"], output: "r2"),
            Node(name: "mp", op: .maxPool(window: .square(2, stride: 1)), inputs: ["r2"], output: "mp"),
            Node(name: "out", op: .flatten, inputs: ["mp"], output: "y"),
        ]
        let graph = Graph(
            inputs: [ValueSpec(name: "input", shape: [-1, 5, 5, 2])], outputs: ["y"], nodes: nodes,
            initializers: ["c.w": tensor([6, 3, 3, 2]), "pw.w": tensor([24, 1, 1, 6]), "pw.b": tensor([24])])
        var x = Tensor(shape: [16, 5, 5, 2])
        for i in 0..<x.count { x.scalars[i] = random.uniform(-1, 1) }
        let model = try Quantizer().quantize(Model(metadata: ModelMetadata(name: "se"), graph: graph), calibrationFeeds: ["input": x])
        let float = try FloatRunner(graph: model.graph).run(["input": x])[0]
        let reference = try Int8Program(model: model, backend: .reference)
        #expect(reference.stepKinds.contains("conv:u8") && reference.stepKinds.contains("max_pool:u8"), "\(reference.stepKinds)")
        let expected = try reference.run(["input": x], workspace: reference.makeWorkspace())[0]
        #expect(expected.shape == [16, 8])
        let step = model.quantization!.activations["y"]!.scale
        for (a, b) in zip(float.scalars, expected.scalars) { #expect(abs(a - b) <= 4 * step, "\(a) vs \(b)") }
        for backend in KernelBackend.available {
            let program = try Int8Program(model: model, backend: backend)
            #expect(try program.run(["input": x], workspace: program.makeWorkspace())[0] == expected, "\(backend)")
        }
    }

    @Test("an output that is the input itself gets its own buffer")
    func outputIsInput() throws {
        let graph = Graph(
            inputs: [ValueSpec(name: "x", shape: [-1, 3])], outputs: ["x", "y"],
            nodes: [Node(name: "f", op: .flatten, inputs: ["x"], output: "y")])
        let model = try Quantizer().quantize(Model(metadata: ModelMetadata(name: "id"), graph: graph))
        let program = try Int8Program(model: model)
        let ws = program.makeWorkspace()
        let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        #expect(try program.run(["x": x], workspace: ws) == [x, x])
        let other = Tensor(shape: [1, 3], scalars: [7, 8, 9])
        #expect(try program.run(["x": other], workspace: ws) == [other, other])
    }

    @Test("invalid quantization parameters in a model are refused, not trapped on")
    func invalidParameters() throws {
        let model = try Self.quantizedCNN()
        var cases: [(String, (inout QuantizationSpec) -> Void)] = [
            ("zero point 300", { $0.activations["input"]!.zeroPoint = 300 }),
            ("scale 0", { $0.activations["c1"]!.scale = 0 }),
            ("NaN scale", { $0.activations["r1"]!.scale = .nan }),
            ("weight scales on the wrong axis", { $0.weights["fc1.w"]!.axis = 1 }),
            ("too few weight scales", { $0.weights["fc1.w"]!.scales.removeLast() }),
            ("negative weight scale", { $0.weights["c1.w"]!.scales[0] = -1 }),
            ("enforced value without parameters", { $0.enforced = ["nowhere"] }),
        ]
        if model.quantization!.biases["fc1.b"] != nil {
            cases.append(("bias of the wrong length", { $0.biases["fc1.b"]!.values.removeLast() }))
        }
        for (name, damage) in cases {
            var bad = model
            damage(&bad.quantization!)
            #expect(throws: ModelError.self, "\(name)") { try bad.validate() }
            #expect(throws: ModelError.self, "\(name)") { try ModelFile.encode(bad) }
        }
    }
}
