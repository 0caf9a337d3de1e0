import Core
import Foundation
import Synchronization
import TransportMQTT

/// A real `starling-agent` process whose output lines the test reads as they come.
final class AgentProcess: Sendable {
    /// The directory of the built executables (beside the test bundle).
    static let binDirectory: URL = {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("starling-agent").path) && url.path != "/" {
            url.deleteLastPathComponent()
        }
        return url
    }()

    private let process: Process
    private let lines = Locked<[String]>([])
    /// Set when the output pipe reached its end (the process and its children are gone).
    private let ended = Locked(false)

    /// Starts `executable` (a built product: `starling-agent` by default) with `arguments`,
    /// adding `environment` to the test's own.
    init(_ arguments: [String], executable: String = "starling-agent", environment: [String: String] = [:]) throws {
        process = Process()
        process.executableURL = Self.binDirectory.appendingPathComponent(executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let handle = out.fileHandleForReading
        let lines = self.lines
        let ended = self.ended
        // A thread of its own: blocking reads must not hold one of the few cooperative threads.
        let reader = Thread {
            var pending = Data()
            while true {
                let chunk = handle.chunkRetryingInterrupts()
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...newline)
                    lines.withLock { $0.append(line) }
                }
            }
            ended.withLock { $0 = true }
        }
        reader.start()
    }

    /// Every line printed so far.
    var output: [String] { lines.withLock { $0 } }

    /// The first line containing `text`, waiting up to `timeout`; nil if none came.
    func line(containing text: String, timeout: Duration = .seconds(60)) async -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            // Read the lines before checking the end: the last ones arrive just before it.
            let done = ended.withLock { $0 }
            if let line = output.first(where: { $0.contains(text) }) { return line }
            if done { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// The HTTP port from the "serving on HOST:PORT" line (`listening on` for the hub).
    func port(after prefix: String = "serving on ") async -> Int? {
        guard let line = await line(containing: prefix) else { return nil }
        return line.split(separator: ":").last.flatMap { Int($0) }
    }

    /// Sends `signal` and waits for the process to end (on a thread of its own).
    func stop(_ signal: Int32 = SIGTERM) async {
        guard process.isRunning else { return }
        kill(process.processIdentifier, signal)
        await waitForExit()
    }

    /// Sends SIGKILL without waiting (for `defer`).
    func kill9() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Waits for the process to end by itself, on a thread of its own.
    func waitForExit() async {
        let process = process
        _ = try? await offThread { process.waitUntilExit() }
    }

    /// How it ended (after `stop`).
    var exitStatus: Int32 { process.terminationStatus }
}

/// A device's keys, packages and configuration for agent tests.
struct AgentFixture {
    static let hubKey = try! SigningKey(name: "hub", seed: Array(repeating: 7, count: 32))
    static let rogueKey = try! SigningKey(name: "rogue", seed: Array(repeating: 9, count: 32))
    /// The package root (this file is Tests/IntegrationTests/Support/AgentProcess.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    let directory: String

    /// A small int8 digits-shaped classifier package (random weights: only serving matters here).
    static func package(_ version: String, seed: UInt64, key: SigningKey = hubKey) -> ModelPackage {
        let graph = try! ModelBuilder.build(.mlp(hidden: [16]), inputShape: [64], outputs: 10, seed: seed)
        let model = try! Quantizer().quantize(
            Model(metadata: ModelMetadata(name: "digits", task: "classification"), features: nil, graph: graph))
        let options = PackageOptions(
            name: "digits", version: SemanticVersion(version)!, createdAt: "2026-11-27T00:00:00Z", chunkSize: 4 << 10)
        return try! ModelPackage.create(model: try! ModelFile.encode(model), options: options, key: key)
    }

    /// Writes the trust ring and the configuration; returns the configuration's path.
    func writeConfiguration(broker: TestBroker, bootstrap: String, probationSeconds: Int = 1) throws -> String {
        try TrustRing(keys: [Self.hubKey.publicKey]).write(to: directory + "/trust.json")
        let config = """
            {"device": {"id": "dev-1"}, "dataDirectory": "\(directory)/data",
             "profile": {"name": "x86-64-gateway", "directory": "\(Self.root)/firmware-profiles"},
             "http": {"port": 0}, "mqtt": {"host": "127.0.0.1", "port": \(broker.port), "keepaliveSeconds": 5},
             "trust": {"ringFile": "\(directory)/trust.json"}, "models": {"bootstrap": "\(bootstrap)"},
             "updates": {"probationSeconds": \(probationSeconds)}}
            """
        try writeText(config, to: directory + "/agent.json")
        return directory + "/agent.json"
    }

    /// A signed assignment of `package` to dev-1.
    static func assignment(
        _ package: ModelPackage, issuedAt: Int64 = Int64(Date().timeIntervalSince1970 * 1000),
        allowDowngrade: Bool = false, key: SigningKey = hubKey
    ) throws -> [UInt8] {
        try Assignment.signed(
            device: try DeviceID("dev-1"), model: try ModelName("digits"), version: package.manifest.version.description,
            packageId: package.head.id, packageSize: Int64(package.encode().count), allowDowngrade: allowDowngrade,
            time: issuedAt, validity: 3_600_000, key: key)
    }

    /// The version that answers an inference on the agent at `port` (and that it answered at all).
    static func servedVersion(port: Int) async throws -> String? {
        try await offThread { try servedVersionBlocking(port: port) }
    }

    private static func servedVersionBlocking(port: Int) throws -> String? {
        let metadata = try runCommand(["curl", "-s", "http://127.0.0.1:\(port)/v2/models/digits"])
        guard let description = try? JSONSerialization.jsonObject(with: Data(metadata.utf8)) as? [String: Any],
            let inputs = description["inputs"] as? [[String: Any]], let input = inputs.first?["name"] as? String
        else { return nil }
        let pixels = Array(repeating: "1", count: 64).joined(separator: ",")
        let body = #"{"inputs": [{"name": "\#(input)", "shape": [1, 64], "datatype": "FP32", "data": [\#(pixels)]}]}"#
        let reply = try runCommand([
            "curl", "-s", "-X", "POST", "-H", "Content-Type: application/json", "--data", body,
            "http://127.0.0.1:\(port)/v2/models/digits/infer",
        ])
        guard let object = try JSONSerialization.jsonObject(with: Data(reply.utf8)) as? [String: Any],
            let outputs = object["outputs"] as? [[String: Any]], let data = outputs.first?["data"] as? [Double], data.count == 10
        else { return nil }
        return object["model_version"] as? String
    }
}

/// A value behind a lock, as a class so closures can share it.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    func withLock<R>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
}

/// Runs blocking work (a child process, a wait) on a thread of its own: Swift's cooperative pool
/// has one thread per core here, and a test blocking one starves every other test's tasks.
func offThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
