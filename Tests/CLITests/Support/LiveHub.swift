import Foundation
import Synchronization

/// A real `starling-hub serve` on a free loopback port with a fresh data directory and an admin
/// token for `alice`, bootstrapped with `starling-hub token create`.
final class LiveHub: Sendable {
    let directory: String
    let url: String
    /// Alice's admin token.
    let adminToken: String
    private let process: Process

    private init(directory: String, url: String, adminToken: String, process: Process) {
        self.directory = directory
        self.url = url
        self.adminToken = adminToken
        self.process = process
    }

    /// Starts a hub and waits for its `listening on HOST:PORT` line.
    static func start() async throws -> LiveHub {
        let directory = try CLIRunner.temporaryDirectory()
        let created = try await offThread {
            try HubCLI.runBlocking(
                "starling-hub", ["token", "create", "--role", "admin", "--subject", "alice", "--data", directory + "/data"])
        }
        guard created.status == 0 else { throw HubStartError(text: "token create failed: \(created.stderr)") }
        let token = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        let process = Process()
        process.executableURL = CLIRunner.binDirectory.appendingPathComponent("starling-hub")
        process.arguments = ["serve", "--data", directory + "/data", "--host", "127.0.0.1", "--port", "0"]
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("STARLING_HUB") }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let handle = out.fileHandleForReading
        // The first line is all that is needed; the pipe is drained after it so the hub never blocks writing.
        let line = try await offThread { () -> String in
            var pending = Data()
            while !pending.contains(UInt8(ascii: "\n")) {
                let chunk = handle.chunkRetryingInterrupts()
                if chunk.isEmpty { break }
                pending.append(chunk)
            }
            Thread { while !handle.chunkRetryingInterrupts().isEmpty {} }.start()
            return String(decoding: pending, as: UTF8.self)
        }
        guard let range = line.range(of: "listening on "),
            let port = line[range.upperBound...].split(separator: ":").last
                .flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
        else {
            if process.isRunning { process.terminate() }
            throw HubStartError(text: "starling-hub serve printed '\(line)'")
        }
        return LiveHub(directory: directory, url: "http://127.0.0.1:\(port)", adminToken: token, process: process)
    }

    /// Runs `starling` against this hub with `token` (alice's admin token unless given).
    func cli(_ arguments: [String], token: String? = nil) async throws -> CLIRunner.Result {
        try await HubCLI.run(arguments, environment: ["STARLING_HUB_URL": url, "STARLING_HUB_TOKEN": token ?? adminToken])
    }

    /// Stops the hub (SIGTERM, waited for on a thread of its own) and removes its directory.
    func stop() async {
        let process = process
        if process.isRunning {
            process.terminate()
            _ = try? await offThread { process.waitUntilExit() }
        }
        CLIRunner.removeDirectory(directory)
    }
}

struct HubStartError: Error, CustomStringConvertible {
    var text: String
    var description: String { text }
}
