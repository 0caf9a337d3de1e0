import Core
import Foundation
import Testing

/// Runs the real `starling-agent serve` binary and a Python script using the stock
/// `tritonclient[http]` package against it.
@Suite("OIP with tritonclient")
struct OIPTritonClientTests {
    /// The Python to use: $STARLING_TEST_PYTHON, else .venv/bin/python at the package root.
    static var python: String {
        ProcessInfo.processInfo.environment["STARLING_TEST_PYTHON"] ?? OIPFixtures.root + "/.venv/bin/python"
    }

    /// The directory holding the built executables (beside the test bundle).
    static let binDirectory: URL = {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("starling-agent").path) && url.path != "/" {
            url.deleteLastPathComponent()
        }
        return url
    }()

    @Test("stock tritonclient reads health and metadata and gets the same answers in JSON and binary as Core predicts")
    func tritonclientAgainstTheAgent() async throws {
        try await requireTritonclient()
        let agent = Self.binDirectory.appendingPathComponent("starling-agent")
        try #require(
            FileManager.default.isExecutableFile(atPath: agent.path), "build starling-agent first (swift build --build-tests)")
        let directory = try OIPFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let modelPath = directory + "/digits.starling"
        try ModelFile.write(OIPFixtures.digitsModel, path: modelPath)

        let server = Process()
        server.executableURL = agent
        server.arguments = ["serve", "--model", "digits=\(modelPath)", "--port", "0"]
        let out = Pipe()
        server.standardOutput = out
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            if server.isRunning {
                server.terminate()
                server.waitUntilExit()
            }
        }
        let firstLine = try await offPool { () -> String in
            var line = Data()
            while !line.contains(UInt8(ascii: "\n")) {
                let chunk = out.fileHandleForReading.chunkRetryingInterrupts()
                if chunk.isEmpty { break }
                line.append(chunk)
            }
            return String(decoding: line, as: UTF8.self)
        }
        let address = try #require(
            firstLine.split(separator: "\n").first?.split(separator: " ").last.map(String.init),
            "the agent printed '\(firstLine)'")
        #expect(address.hasPrefix("127.0.0.1:"))

        let script = OIPFixtures.root + "/Tests/AgentTests/Python/tritonclient_check.py"
        let result = try await offPool {
            try Self.run(Self.python, [script, address, "digits", OIPFixtures.root + "/data/digits.csv"])
        }
        #expect(result.status == 0, "tritonclient_check.py failed: \(result.stderr)")
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
            "no report: \(result.stdout) \(result.stderr)")
        #expect(report["live"] as? Bool == true)
        #expect(report["model_ready"] as? Bool == true)
        #expect(report["unknown_model_ready"] as? Bool == false)
        #expect((report["bad_shape_error"] as? String)?.contains("[-1, 64]") == true)
        let probabilities = try #require(report["probabilities"] as? [[Double]]).flatMap { $0.map(Float.init) }
        let expected = OIPFixtures.corePrediction(OIPFixtures.digitsModel, pixels: OIPFixtures.pixels(rows: 8))
        #expect(probabilities == expected.scalars)

        // SIGTERM: a graceful shutdown with exit status 0.
        server.terminate()
        server.waitUntilExit()
        #expect(server.terminationReason == .exit)
        #expect(server.terminationStatus == 0)
    }

    /// Why the test cannot run, with the fix; thrown, so the test fails (never skips).
    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    /// Fails the test, with the fix, when the Python or its packages are missing.
    private func requireTritonclient() async throws {
        let python = Self.python
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw Missing(
                description:
                    "no Python at \(python): set STARLING_TEST_PYTHON or run `python3 -m venv .venv && .venv/bin/pip install 'tritonclient[http]' numpy`"
            )
        }
        let check = try await offPool { try Self.run(python, ["-c", "import tritonclient.http, numpy"]) }
        guard check.status == 0 else {
            throw Missing(
                description:
                    "tritonclient[http] or numpy is missing for \(python): run `\(python) -m pip install 'tritonclient[http]' numpy` (\(check.stderr))"
            )
        }
    }

    private static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String)
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readAllRetryingInterrupts()
        let stderr = err.fileHandleForReading.readAllRetryingInterrupts()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }
}
