import Agent
import ArgumentParser
import Core
import Dispatch

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// `starling-agent serve`: the inference API over models given on the command line, until
/// SIGINT or SIGTERM.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve models over the Open Inference Protocol until SIGINT or SIGTERM.",
        discussion: """
            Prints "serving on HOST:PORT" once listening (with --port 0, the port picked). \
            See docs/inference-api.md for the routes.
            """)

    @Option(
        name: .customLong("model"), help: "A model to serve: NAME=FILE or NAME:VERSION=FILE (repeatable; version defaults to 1).")
    var models: [String] = []
    @Option(help: "TCP address to listen on.")
    var host = "127.0.0.1"
    @Option(help: "TCP port; 0 picks a free one.")
    var port = 8000
    @Option(name: .customLong("unix-socket"), help: "Also listen on this Unix socket path.")
    var unixSocket: String?
    @Option(help: "Event loop threads (inference runs on them).")
    var threads = 1
    @Option(name: .customLong("max-batch"), help: "Most samples in one int8 run.")
    var maxBatch = 32
    @Option(name: .customLong("max-wait-us"), help: "Microseconds a lone request waits for others to batch with (0: none).")
    var maxWaitMicroseconds = 0
    @Option(name: .customLong("max-body-bytes"), help: "Largest request body accepted.")
    var maxBodyBytes = 8 << 20
    @Option(
        name: .customLong("prediction-log"),
        help: "Keep up to this many predictions in memory for the feedback route (0: no log).")
    var predictionLogCapacity = 0
    @Option(help: "int8 backend: best, avx512vnni, avx2, xnnpack or reference.")
    var backend = "best"

    func validate() throws {
        guard !models.isEmpty else { throw ValidationError("give at least one --model NAME=FILE") }
        for spec in models { _ = try Self.parse(spec) }
        guard maxWaitMicroseconds >= 0 else { throw ValidationError("--max-wait-us must be >= 0") }
        guard predictionLogCapacity >= 0 else { throw ValidationError("--prediction-log must be >= 0") }
    }

    /// Splits NAME[:VERSION]=FILE.
    static func parse(_ spec: String) throws -> (name: String, version: String, path: String) {
        guard let equals = spec.firstIndex(of: "="), equals != spec.startIndex, spec.index(after: equals) != spec.endIndex else {
            throw ValidationError("--model '\(spec)' must be NAME=FILE or NAME:VERSION=FILE")
        }
        let key = spec[..<equals]
        let path = String(spec[spec.index(after: equals)...])
        let parts = key.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.allSatisfy({ !$0.isEmpty }) else { throw ValidationError("--model '\(spec)': empty name or version") }
        return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "1", path)
    }

    func run() async throws {
        guard let kernel = KernelBackend(rawValue: backend) ?? (backend == "best" ? KernelBackend.best : nil) else {
            throw ValidationError("unknown --backend '\(backend)'")
        }
        let batching = BatchingConfiguration(
            maxBatch: maxBatch, maxWait: .microseconds(maxWaitMicroseconds), maxQueuedRows: max(4096, maxBatch))
        let registry = ModelRegistry(backend: kernel, batching: batching, metrics: ServingMetrics())
        for spec in models {
            let (name, version, path) = try Self.parse(spec)
            let model = try ModelFile.read(path: path)
            try registry.load(model, name: name, version: version)
        }
        let service = InferenceService(
            configuration: InferenceServiceConfiguration(
                host: host, port: port, unixSocketPath: unixSocket, maxBodyBytes: maxBodyBytes, threads: threads),
            registry: registry, log: predictionLogCapacity > 0 ? InMemoryPredictionLog(capacity: predictionLogCapacity) : nil)
        let signals = Self.terminationSignals()
        let bound = try await service.start()
        print("serving on \(host):\(bound)" + (unixSocket.map { " and \($0)" } ?? ""))
        fflush(nil)
        for await signal in signals {
            print("received signal \(signal), shutting down")
            fflush(nil)
            break
        }
        await service.shutdown()
    }

    /// SIGINT and SIGTERM as a stream (the default handlers are turned off).
    static func terminationSignals() -> AsyncStream<Int32> {
        AsyncStream { continuation in
            let sources = SignalSources(
                [SIGINT, SIGTERM].map { number in
                    signal(number, SIG_IGN)
                    let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                    source.setEventHandler { continuation.yield(number) }
                    source.resume()
                    return source
                })
            continuation.onTermination = { _ in sources.cancel() }
        }
    }
}

/// Keeps the signal sources alive for the stream's life; they are only cancelled, once.
private final class SignalSources: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]

    init(_ sources: [any DispatchSourceSignal]) {
        self.sources = sources
    }

    func cancel() {
        for source in sources { source.cancel() }
    }
}
