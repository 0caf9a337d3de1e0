import Foundation
import Testing

@testable import Core

@Suite("Training")
struct TrainingTests {
    /// Runs `steps` optimizer steps on one parameter with a fixed gradient sequence.
    func run(_ config: OptimizerConfig, _ start: [Float], _ grads: [[Float]]) -> [Float] {
        var optimizer = config.makeOptimizer()
        var params = ["w": Tensor(shape: [start.count], scalars: start)]
        for g in grads { optimizer.step(&params, gradients: ["w": Tensor(shape: [g.count], scalars: g)]) }
        return params["w"]!.scalars
    }

    let grads: [[Float]] = [[0.5, -1, 2], [0.25, 0.5, -1], [-0.1, 0.2, 0.3]]

    @Test("SGD with momentum, Nesterov and weight decay follow the PyTorch update rule")
    func sgd() {
        for (momentum, nesterov, decay) in [(Float(0), false, Float(0)), (0.9, false, 0.01), (0.9, true, 0.01)] {
            var w: [Double] = [1, -2, 3]
            var v: [Double] = [0, 0, 0]
            for g in grads {
                for i in 0..<3 {
                    let gi = Double(g[i]) + Double(decay) * w[i]
                    v[i] = Double(momentum) * v[i] + gi
                    w[i] -= 0.1 * (nesterov ? gi + Double(momentum) * v[i] : (momentum == 0 ? gi : v[i]))
                }
            }
            let got = run(.sgd(learningRate: 0.1, momentum: momentum, nesterov: nesterov, weightDecay: decay), [1, -2, 3], grads)
            for i in 0..<3 { #expect(abs(Double(got[i]) - w[i]) < 1e-6) }
        }
    }

    @Test("Adam and AdamW follow Kingma & Ba with bias correction")
    func adam() {
        for decoupled in [true, false] {
            var w: [Double] = [1, -2, 3]
            var m: [Double] = [0, 0, 0]
            var v: [Double] = [0, 0, 0]
            let (lr, b1, b2, eps, wd) = (0.01, 0.9, 0.999, 1e-8, 0.1)
            for (t, g) in grads.enumerated() {
                for i in 0..<3 {
                    let gi = Double(g[i]) + (decoupled ? 0 : wd * w[i])
                    m[i] = b1 * m[i] + (1 - b1) * gi
                    v[i] = b2 * v[i] + (1 - b2) * gi * gi
                    let mhat = m[i] / (1 - pow(b1, Double(t + 1)))
                    let vhat = v[i] / (1 - pow(b2, Double(t + 1)))
                    w[i] -= lr * (mhat / (vhat.squareRoot() + eps) + (decoupled ? wd * w[i] : 0))
                }
            }
            let got = run(.adam(learningRate: 0.01, weightDecay: 0.1, decoupled: decoupled), [1, -2, 3], grads)
            for i in 0..<3 { #expect(abs(Double(got[i]) - w[i]) < 1e-5, "decoupled \(decoupled): \(got[i]) vs \(w[i])") }
        }
    }

    @Test("cross-entropy and MSE match their formulas")
    func losses() throws {
        let logits = Tensor(shape: [2, 3], scalars: [1, 2, 3, 0, 0, 10])
        let (loss, grad) = try Loss.softmaxCrossEntropy.evaluate(logits, .classes([2, 0]))
        let l0 = log(exp(1.0) + exp(2.0) + exp(3.0)) - 3
        let l1 = log(2 + exp(10.0)) - 0
        #expect(abs(Double(loss) - (l0 + l1) / 2) < 1e-5)
        let p0 = exp(1.0) / (exp(1.0) + exp(2.0) + exp(3.0))
        #expect(abs(Double(grad.scalars[0]) - p0 / 2) < 1e-6)
        #expect(abs(grad.scalars[0..<3].reduce(0, +)) < 1e-6)
        let (mse, mgrad) = try Loss.meanSquaredError.evaluate(Tensor(shape: [2, 1], scalars: [1, 3]), .values(Tensor(shape: [2, 1], scalars: [0, 0])))
        #expect(mse == 5)
        #expect(mgrad.scalars == [1, 3])
        #expect(throws: ModelError.self) { try Loss.softmaxCrossEntropy.evaluate(logits, .classes([3, 0])) }
    }

    func trainSmall(seed: UInt64, clip: Float? = nil, mu: Float = 0) throws -> Graph {
        let (train, _) = TestSupport.digits
        let pipeline = try FeatureRecipe(scaling: .divide(16)).fit(train.features)
        var graph = try ModelBuilder.build(.mlp(hidden: [32]), inputShape: [64], outputs: 10, seed: seed)
        let config = TrainingConfig(epochs: 2, optimizer: .sgd(learningRate: 0.1, momentum: 0.9), seed: seed, clipNorm: clip, proximalMu: mu)
        try Trainer(config: config).fit(
            &graph, feeds: try pipeline.transform(train.features), targets: .classes(try ClassEncoder(fitting: train.labels).encode(train.labels)))
        return graph
    }

    @Test("training is deterministic for a seed and differs across seeds")
    func determinism() throws {
        #expect(try trainSmall(seed: 5) == trainSmall(seed: 5))
        #expect(try trainSmall(seed: 5) != trainSmall(seed: 6))
    }

    @Test("a FedProx term keeps the weights nearer their start; clipping bounds the norm")
    func proximalAndClip() throws {
        let start = try ModelBuilder.build(.mlp(hidden: [32]), inputShape: [64], outputs: 10, seed: 5)
        func distance(_ g: Graph) -> Double {
            var sum: Double = 0
            for name in g.trainableParameters {
                for (a, b) in zip(g.initializers[name]!.scalars, start.initializers[name]!.scalars) {
                    sum += Double((a - b) * (a - b))
                }
            }
            return sum
        }
        #expect(distance(try trainSmall(seed: 5, mu: 1)) < distance(try trainSmall(seed: 5)))
        var grads = ["a": Tensor(shape: [2], scalars: [3, 4]), "b": Tensor(shape: [1], scalars: [12])]
        Trainer.clip(&grads, to: 1.3)
        #expect(abs(grads["a"]!.scalars[0] - 0.3) < 1e-6 && abs(grads["b"]!.scalars[0] - 1.2) < 1e-6)
    }

    @Test("a deadline stops training between epochs: a passed one after the first, a far one never")
    func deadline() throws {
        let start = try ModelBuilder.build(.mlp(hidden: [8]), inputShape: [4], outputs: 2, seed: 1)
        let x = Tensor(shape: [16, 4], scalars: (0..<64).map { Float($0 % 7) / 7 })
        let y = Targets.classes((0..<16).map { $0 % 2 })
        let trainer = Trainer(config: TrainingConfig(epochs: 5, batchSize: 4, seed: 1))
        var passed = start
        let early = try trainer.fit(&passed, feeds: ["input": x], targets: y, deadline: .now - .seconds(1))
        #expect(early.map(\.epoch) == [1])
        var far = start
        let all = try trainer.fit(&far, feeds: ["input": x], targets: y, deadline: .now + .seconds(3600))
        #expect(all.map(\.epoch) == [1, 2, 3, 4, 5])
        var none = start
        try trainer.fit(&none, feeds: ["input": x], targets: y)
        #expect(none.initializers == far.initializers, "a deadline that does not bind changes nothing")
    }

    @Test("batch norm learns running statistics and folds into the convolution")
    func batchNormFolding() throws {
        var graph = try ModelBuilder.build(
            .cnn(layers: [.conv(filters: 4, kernel: 3, stride: 1, same: true), .batchNorm, .globalAvgPool]), inputShape: [6, 6, 2], outputs: 3, seed: 2)
        var random = RandomSource(seed: 8)
        let x = Tensor(shape: [32, 6, 6, 2], scalars: (0..<(32 * 72)).map { _ in random.uniform(0, 2) })
        let y = Targets.classes((0..<32).map { $0 % 3 })
        try Trainer(config: TrainingConfig(epochs: 3, batchSize: 8, seed: 1)).fit(&graph, feeds: ["input": x], targets: y)
        let mean = graph.initializers.first { $0.key.hasSuffix(".mean") }!.value
        #expect(mean.scalars.contains { $0 != 0 }, "running mean was updated")
        let folded = graph.foldingBatchNorm()
        #expect(!folded.nodes.contains { if case .batchNorm = $0.op { true } else { false } })
        let a = try FloatRunner(graph: graph).run(["input": x])[0]
        let b = try FloatRunner(graph: folded).run(["input": x])[0]
        for (u, v) in zip(a.scalars, b.scalars) { #expect(abs(u - v) < 1e-4) }
    }

    @Test("architectures parse, and bad ones are explained")
    func architectures() throws {
        #expect(try Architecture(parsing: "mlp:128,64") == .mlp(hidden: [128, 64]))
        #expect(try Architecture(parsing: "cnn:fedavg") == .cnn(layers: Architecture.fedAvgCNN))
        #expect(try Architecture(parsing: "cnn:conv8k3s2v,dw3,bn,avg2,gap,dense16").description == "cnn:conv8k3s2v,dw3,bn,avg2,gap,dense16")
        for bad in ["mlp", "mlp:0", "cnn:conv8", "rnn", "logreg:5"] {
            #expect(throws: ModelError.self) { try Architecture(parsing: bad) }
        }
        let g = try ModelBuilder.build(.cnn(layers: Architecture.fedAvgCNN), inputShape: [28, 28, 1], outputs: 10)
        #expect(g.parameterCount == 32 * 25 + 32 + 64 * 800 + 64 + 3136 * 512 + 512 + 5130)
    }

    @Test("a CNN learns the digits as 8x8 images")
    func cnnDigits() throws {
        let (train, test) = TestSupport.digits
        let pipeline = try FeatureRecipe(scaling: .divide(16), image: [8, 8, 1]).fit(train.features)
        let encoder = ClassEncoder(fitting: train.labels)
        var graph = try ModelBuilder.build(try Architecture(parsing: "cnn:conv16k3,pool2,conv32k3,pool2,dense64"), inputShape: [8, 8, 1], outputs: 10, seed: 1)
        try Trainer(config: TrainingConfig(epochs: 8, optimizer: .adam(learningRate: 3e-3), seed: 1))
            .fit(&graph, feeds: try pipeline.transform(train.features), targets: .classes(try encoder.encode(train.labels)))
        let result = try Evaluator(graph: graph, loss: .softmaxCrossEntropy)
            .evaluate(try pipeline.transform(test.features), .classes(try encoder.encode(test.labels)))
        #expect(result.accuracy! >= 0.95, "CNN accuracy \(result.accuracy!)")
    }

    @Test("text columns train through hashed tokens and an embedding bag, also in int8")
    func textClassification() throws {
        var random = RandomSource(seed: 12)
        let positive = ["great", "love", "excellent", "happy", "fine"]
        let negative = ["awful", "hate", "broken", "sad", "poor"]
        let filler = ["the", "a", "device", "was", "really", "today", "it"]
        var rows = ["note,temperature,label"]
        for i in 0..<400 {
            let label = i % 2
            let words = (0..<6).map { k in
                k % 3 == 0 ? (label == 1 ? positive : negative)[random.below(5)] : filler[random.below(filler.count)]
            }
            rows.append("\"\(words.joined(separator: " ").capitalized)\",\(random.uniform(10, 30)),\(label)")
        }
        let data = try LabeledData(try CSV.parse(Array(rows.joined(separator: "\n").utf8)), label: "label")
        let (train, test) = try data.split(testFraction: 0.25, seed: 1)
        let pipeline = try FeatureRecipe(scaling: .standard, text: ["note"], textBuckets: 512, maxTokens: 8).fit(train.features)
        #expect(pipeline.outputShapes.map(\.name) == ["input", "tokens"])
        var graph = try ModelBuilder.build(
            .mlp(hidden: [16]), inputShape: [1], outputs: 2, seed: 3, tokens: .init(buckets: 512, length: 8, dimension: 8))
        let encoder = ClassEncoder(fitting: train.labels)
        try Trainer(config: TrainingConfig(epochs: 15, optimizer: .adam(learningRate: 0.01), seed: 3))
            .fit(&graph, feeds: try pipeline.transform(train.features), targets: .classes(try encoder.encode(train.labels)))
        let xt = try pipeline.transform(test.features)
        let yt = try encoder.encode(test.labels)
        let result = try Evaluator(graph: graph, loss: .softmaxCrossEntropy).evaluate(xt, .classes(yt))
        #expect(result.accuracy! >= 0.95, "text accuracy \(result.accuracy!)")

        let model = Model(metadata: ModelMetadata(name: "text", classes: encoder.classes), features: pipeline, graph: graph)
        let quantized = try Quantizer().quantize(model, calibrationFeeds: try pipeline.transform(train.features))
        let decoded = try ModelFile.decode(try ModelFile.encode(quantized))
        let program = try Int8Program(model: decoded)
        let int8 = try program.run(xt, workspace: program.makeWorkspace())[0].argmaxRows()
        #expect(Double(zip(int8, yt).filter { $0 == $1 }.count) / Double(yt.count) >= 0.95)
    }
}
