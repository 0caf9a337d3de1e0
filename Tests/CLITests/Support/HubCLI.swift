import Foundation

/// Runs `starling` (and `starling-hub`) for the hub client tests, always on a thread of its own:
/// a blocking wait on Swift's cooperative pool (one thread per core here) starves other tests.
enum HubCLI {
    /// Runs `starling` with `arguments`; the test's own `STARLING_HUB_*` variables are removed
    /// and `environment` added, so a developer's settings never reach a test.
    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> CLIRunner.Result {
        try await offThread { try runBlocking("starling", arguments, environment: environment) }
    }

    /// Runs a built executable to its end, with output in temporary files (no pipe to fill up).
    static func runBlocking(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws
        -> CLIRunner.Result
    {
        let process = Process()
        process.executableURL = CLIRunner.binDirectory.appendingPathComponent(executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: CLIRunner.root)
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("STARLING_HUB") }
            .merging(environment) { $1 }
        let directory = try CLIRunner.temporaryDirectory()
        defer { CLIRunner.removeDirectory(directory) }
        _ = FileManager.default.createFile(atPath: directory + "/out", contents: nil)
        _ = FileManager.default.createFile(atPath: directory + "/err", contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/out"))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/err"))
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try out.close()
        try err.close()
        return CLIRunner.Result(
            status: process.terminationStatus,
            stdout: (try? String(contentsOfFile: directory + "/out", encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: directory + "/err", encoding: .utf8)) ?? "",
            failedCleanly: process.terminationReason == .exit && process.terminationStatus != 0)
    }
}

/// Runs blocking work on a thread of its own and resumes the caller when it is done.
func offThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

extension CLIRunner.Result {
    /// Standard output as JSON.
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) }
}
