/// Command-line options of `starling-bench` (the same names as `bench_ort.py`).
struct Options {
    /// Name of the case, copied into the result.
    var caseName = ""
    /// The ONNX file to import.
    var model = ""
    /// Samples per call.
    var batch = 1
    /// Threads of the int8 workspace (float32 inference always runs on one).
    var threads = 1
    /// Kernel backend for int8 models: `auto` or a `KernelBackend` name.
    var backend = "auto"
    var warmupMs = 300.0
    var roundMs = 40.0
    var rounds = 31
    var budgetMs = 4000.0

    static let usage = """
        usage: starling-bench --case NAME --model FILE.onnx --batch N [--threads T] [--backend auto|NAME]
                              [--warmup-ms MS] [--round-ms MS] [--rounds R] [--budget-ms MS]
               starling-bench --list-backends
               starling-bench package ... | starling-bench sizes ... | starling-bench aggregate ...
                              (see --help of each)
        Imports the ONNX model, times it like Benchmarks/ort/bench_ort.py, checks its output against
        ONNX Runtime's (FILE.check.in.bin / .check.out.bin when present) and prints one JSON line.
        """

    /// Parses `arguments` (without the program name).
    init(parsing arguments: [String]) throws(BenchError) {
        var rest = arguments[...]
        func value(_ flag: String) throws(BenchError) -> String {
            guard let v = rest.popFirst() else { throw BenchError("\(flag) needs a value") }
            return v
        }
        func number<T: LosslessStringConvertible>(_ flag: String) throws(BenchError) -> T {
            let text = try value(flag)
            guard let v = T(text) else { throw BenchError("\(flag) takes a number, got '\(text)'") }
            return v
        }
        while let flag = rest.popFirst() {
            switch flag {
            case "--case": caseName = try value(flag)
            case "--model": model = try value(flag)
            case "--batch": batch = try number(flag)
            case "--threads": threads = try number(flag)
            case "--backend": backend = try value(flag)
            case "--warmup-ms": warmupMs = try number(flag)
            case "--round-ms": roundMs = try number(flag)
            case "--rounds": rounds = try number(flag)
            case "--budget-ms": budgetMs = try number(flag)
            default: throw BenchError("unknown option '\(flag)'")
            }
        }
        guard !model.isEmpty else { throw BenchError("--model is required") }
        guard batch >= 1, threads >= 1, rounds >= 1 else {
            throw BenchError("--batch, --threads and --rounds must be at least 1")
        }
        if caseName.isEmpty { caseName = model }
    }
}

/// A failure that ends the benchmark with a message.
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
