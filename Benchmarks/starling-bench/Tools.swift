import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Wall-clock and CPU seconds of one call. CPU time (user + system) hardly grows when other work
/// shares the machine, so it tells what a quiet machine's wall time would be for single-threaded work.
struct Timing {
    var wall: Double
    var cpu: Double
}

/// User + system CPU seconds of this process, or of its children that have been waited for.
func cpuSeconds(children: Bool) -> Double {
    var usage = rusage()
    #if canImport(Glibc)
        getrusage(__rusage_who_t((children ? RUSAGE_CHILDREN : RUSAGE_SELF).rawValue), &usage)
    #else
        getrusage(children ? RUSAGE_CHILDREN : RUSAGE_SELF, &usage)
    #endif
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) * 1e-6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Runs other programs for the package benchmark: the `starling` CLI, `zstd` and `openssl`.
enum Tools {
    /// Runs `arguments` (the program is looked up on PATH unless it is a path) and waits for it;
    /// returns the wall time from just before the start to its exit, and its CPU time. Throws
    /// with the program's error output when it exits with a non-zero status.
    @discardableResult
    static func run(_ arguments: [String]) throws -> Timing {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        let cpu = cpuSeconds(children: true)
        let start = now()
        try process.run()
        process.waitUntilExit()
        let timing = Timing(wall: now() - start, cpu: cpuSeconds(children: true) - cpu)
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            throw BenchError("'\(arguments.joined(separator: " "))' failed (status \(process.terminationStatus)): \(message)")
        }
        return timing
    }

    /// Runs `arguments` and returns what it printed on standard output (and standard error).
    static func output(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw BenchError("'\(arguments.joined(separator: " "))' failed (status \(process.terminationStatus)): \(text)")
        }
        return text
    }

    /// The first line a program prints for `--version` (or `version`), for the record.
    static func version(_ arguments: [String]) -> String {
        let text = (try? output(arguments)) ?? "missing"
        return text.split(separator: "\n").first.map(String.init) ?? "?"
    }

    /// zstd's own in-memory benchmark (`zstd -b<level> -q`) on `file`: compression and
    /// decompression speed in MB/s (10^6 bytes), the fastest of its runs over about `seconds`
    /// seconds each, and the compressed size.
    static func zstdBench(file: String, level: Int, seconds: Int) throws -> (compress: Double, decompress: Double, bytes: Int) {
        let text = try output(["zstd", "-b\(level)", "-i\(seconds)", "-q", file])
        // e.g. "-3     9563318 (1.099) 301.59 MB/s 1195.4 MB/s  model.starling"
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let words = line.split(separator: " ")
            guard words.first == "-\(level)", words.count >= 7, words[4] == "MB/s", words[6] == "MB/s",
                let size = Int(words[1]), let c = Double(words[3]), let d = Double(words[5])
            else { continue }
            return (c, d, size)
        }
        throw BenchError("could not read the speeds from `zstd -b\(level) -q` output: \(text)")
    }
}
