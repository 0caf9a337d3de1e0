import Foundation
import Synchronization

/// A child process with pipes on its standard input and output, read line by line on a thread
/// of its own. Stopped by its pid.
final class Child: @unchecked Sendable {
    let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var buffered: [UInt8] = []

    init(_ arguments: [String], stderr: FileHandle? = nil) throws {
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.standardInput = input
        process.standardOutput = output
        if let stderr { process.standardError = stderr }
        try process.run()
    }

    /// Sends one line.
    func send(_ line: String) {
        input.fileHandleForWriting.write(Data((line + "\n").utf8))
    }

    /// The next line of its output (nil at the end), read on another thread.
    func line() async -> String? {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: self.blockingLine()) }.start()
        }
    }

    private func blockingLine() -> String? {
        while true {
            if let end = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffered[..<end], as: UTF8.self)
                buffered.removeFirst(end + 1)
                return line
            }
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { return nil }
            buffered += data
        }
    }

    /// Waits for the exit, on another thread.
    func exit() async {
        await withCheckedContinuation { continuation in
            Thread {
                self.process.waitUntilExit()
                continuation.resume()
            }.start()
        }
    }

    /// SIGKILL to this child's pid: children inherit the signal mask of the thread that spawned
    /// them, and a blocked SIGTERM would leave them running.
    func terminate() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// `mosquitto_sub` as the peer subscriber: its output is read in large blocks on a thread and
/// lines that start with `{` (telemetry JSON) are counted; other lines are probes.
final class LineCounter: Sendable {
    private let counts = Mutex<(data: Int, probes: Int)>((0, 0))
    let child: Child

    init(_ arguments: [String]) throws {
        child = try Child(arguments)
        let handle = child.process.standardOutput as! Pipe
        Thread { [self] in
            var atLineStart = true
            while true {
                let data = handle.fileHandleForReading.availableData
                if data.isEmpty { return }
                var data0 = 0
                var probes0 = 0
                for byte in data {
                    if atLineStart { if byte == UInt8(ascii: "{") { data0 += 1 } else { probes0 += 1 } }
                    atLineStart = byte == UInt8(ascii: "\n")
                }
                counts.withLock {
                    $0.data += data0
                    $0.probes += probes0
                }
            }
        }.start()
    }

    /// Telemetry lines so far.
    var lines: Int { counts.withLock { $0.data } }
    /// Probe lines so far.
    var probes: Int { counts.withLock { $0.probes } }
}
