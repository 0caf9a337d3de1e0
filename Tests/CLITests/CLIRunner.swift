import Foundation

/// Runs the built `starling` executable (it sits beside the test bundle) and captures its output.
struct CLIRunner {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        /// True when the process exited by itself with a failure status (1 for errors, 64 for
        /// usage errors), not by a signal such as a crash.
        var failedCleanly: Bool
    }

    static let binDirectory: URL = {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("starling").path) && url.path != "/" {
            url.deleteLastPathComponent()
        }
        return url
    }()

    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// Runs `starling` with `arguments` in the repository root.
    static func run(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = binDirectory.appendingPathComponent("starling")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: root)
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readAllRetryingInterrupts()
        let stderr = err.fileHandleForReading.readAllRetryingInterrupts()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self),
            failedCleanly: process.terminationReason == .exit && process.terminationStatus != 0)
    }

    /// A fresh temporary directory (tests remove it with `removeDirectory`).
    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "starling-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Removes a directory made by `temporaryDirectory`.
    static func removeDirectory(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }
}
