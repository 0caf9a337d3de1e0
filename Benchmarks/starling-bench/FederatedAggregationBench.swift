import Core
import Foundation

/// `starling-bench aggregate`: Starling's streaming FedAvg over K updates of P float32 values,
/// the counterpart of `Benchmarks/federated/flower_aggregate.py`. Updates are generated one at a
/// time into a single buffer (never all in memory, as on a hub that folds each arriving update
/// in); only `add` and `finishRound` are timed. Prints one JSON line.
struct FederatedAggregationBench {
    static let usage = """
        usage: starling-bench aggregate [--updates K] [--parameters P] [--repeats R]
        Times FedAvg over K updates (default 1000) of P float32 values (default 1000000), R times
        (default 3), and reports the median time, the peak RSS above the process's state before
        the first round (VmHWM after resetting it), and a checksum of the result that
        flower_aggregate.py reproduces on the same deterministic inputs.
        """

    var updates = 1000
    var parameters = 1_000_000
    var repeats = 3

    init(parsing arguments: [String]) throws {
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            guard let text = rest.popFirst(), let value = Int(text), value > 0 else {
                throw BenchError("\(flag) needs a positive integer")
            }
            switch flag {
            case "--updates": updates = value
            case "--parameters": parameters = value
            case "--repeats": repeats = value
            default: throw BenchError("unknown option '\(flag)'")
            }
        }
    }

    /// The inputs both sides build: base[i] from integer hashing (exact in float32), update k a
    /// rotation of it by 7919·k scaled by (1 + k mod 5)/100, with 1 + k mod 17 examples.
    static func base(_ p: Int) -> [Float] {
        (0..<p).map { i in Float((i &* 2_654_435_761) % 1_000_003) / Float(1_000_003) - 0.5 }
    }

    static func fill(_ out: inout [Float], from base: [Float], update k: Int) {
        let p = base.count
        let shift = (7919 * k) % p
        let scale = Float(1 + k % 5) / 100
        base.withUnsafeBufferPointer { b in
            out.withUnsafeMutableBufferPointer { o in
                for i in 0..<(p - shift) { o[i] = b[i + shift] * scale }
                for i in (p - shift)..<p { o[i] = b[i + shift - p] * scale }
            }
        }
    }

    struct Row: Encodable {
        var section = "aggregate"
        var side = "starling"
        var updates: Int
        var parameters: Int
        var seconds: [Double]
        var medianSeconds: Double
        var cpuSeconds: [Double]
        var medianCPUSeconds: Double
        var peakAboveBaselineMB: Double
        var modelMB: Double
        var checksum: Double

        enum CodingKeys: String, CodingKey {
            case section, side, updates, parameters, seconds, checksum, cpuSeconds = "cpu_seconds", medianCPUSeconds =
                "median_cpu_s"
            case medianSeconds = "median_s", peakAboveBaselineMB = "peak_above_baseline_mb", modelMB = "model_mb"
        }
    }

    func run() throws {
        let base = Self.base(parameters)
        var update = ClientUpdate(client: "c", delta: [Float](repeating: 0, count: parameters), examples: 1)
        let global = [Float](repeating: 0, count: parameters)
        var seconds: [Double] = []
        var cpu: [Double] = []
        var checksum = 0.0
        // Reset the high-water mark: what follows is the aggregation's own memory.
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
        let baseline = Self.status("VmRSS")
        for _ in 0..<repeats {
            var strategy = FedAvg()
            var timed = 0.0, timedCPU = 0.0
            try strategy.beginRound(global: global)
            for k in 0..<updates {
                Self.fill(&update.delta, from: base, update: k)
                update.examples = 1 + k % 17
                let start = DispatchTime.now().uptimeNanoseconds, startCPU = cpuSeconds(children: false)
                try strategy.add(update)
                timed += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
                timedCPU += cpuSeconds(children: false) - startCPU
            }
            let start = DispatchTime.now().uptimeNanoseconds, startCPU = cpuSeconds(children: false)
            let result = try strategy.finishRound()
            timed += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            timedCPU += cpuSeconds(children: false) - startCPU
            seconds.append(timed)
            cpu.append(timedCPU)
            checksum = result.reduce(0.0) { $0 + Double($1) }
        }
        let peak = Self.status("VmHWM") - baseline
        let row = Row(
            updates: updates, parameters: parameters, seconds: seconds, medianSeconds: median(seconds),
            cpuSeconds: cpu, medianCPUSeconds: median(cpu),
            peakAboveBaselineMB: peak / 1_048_576, modelMB: Double(4 * parameters) / 1_048_576, checksum: checksum)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(row), as: UTF8.self))
    }

    func median(_ values: [Double]) -> Double {
        let s = values.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// A /proc/self/status field in bytes.
    static func status(_ key: String) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            let kb = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
            return kb * 1024
        }
        return 0
    }
}
