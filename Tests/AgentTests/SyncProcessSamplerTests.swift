import Foundation
import Synchronization
import Testing

@testable import Agent

/// `ProcessSampler` on fake `/proc` files (exact arithmetic) and on the real process.
@Suite("Sync process sampler")
struct SyncProcessSamplerTests {
    /// A `stat` line whose command name contains spaces and parentheses; utime and stime are
    /// fields 14 and 15.
    static func statLine(utime: Int, stime: Int) -> String {
        "4242 (starling (agent) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 \(utime) \(stime) 0 0 20 0 9 0 123 456789 1234\n"
    }

    static func write(_ text: String, _ path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test("CPU share from utime + stime over wall time and cores; RSS from statm pages; disk from file sizes")
    func fakeProc() async throws {
        try await withTemporaryDirectory { directory in
            let proc = "\(directory)/proc"
            let data = "\(directory)/data"
            try FileManager.default.createDirectory(atPath: proc, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: "\(data)/models/digits", withIntermediateDirectories: true)
            try Self.write(Self.statLine(utime: 100, stime: 50), "\(proc)/stat")
            try Self.write("5000 1234 300 10 0 900 0\n", "\(proc)/statm")
            try Data(count: 1000).write(to: URL(fileURLWithPath: "\(data)/agent.sqlite"))
            try Data(count: 200).write(to: URL(fileURLWithPath: "\(data)/agent.sqlite-wal"))
            try Data(count: 32).write(to: URL(fileURLWithPath: "\(data)/agent.sqlite-shm"))
            try Data(count: 4096).write(to: URL(fileURLWithPath: "\(data)/models/digits/model.bin"))
            try FileManager.default.createSymbolicLink(atPath: "\(data)/loop", withDestinationPath: data)

            let now = Mutex(Duration.seconds(10))
            let sampler = ProcessSampler(
                dataDirectory: data, procDirectory: proc, cores: 4, ticksPerSecond: 100, pageSize: 4096,
                elapsed: { now.withLock { $0 } })
            // 2 s later the process used 150 more ticks = 1.5 s of CPU: 1.5 / (2 × 4) = 18.75 %.
            try Self.write(Self.statLine(utime: 200, stime: 100), "\(proc)/stat")
            now.withLock { $0 = .seconds(12) }
            let sample = sampler.sample()
            #expect(abs(sample.cpuPercent - 18.75) < 1e-9)
            #expect(sample.rssBytes == 1234 * 4096)
            #expect(sample.diskUsedBytes == 1000 + 200 + 32 + 4096, "symbolic links are not followed")
            #expect(sample.problems.isEmpty)

            // No CPU used since: 0 %; a share above 100 % (a clock jump) is clamped.
            now.withLock { $0 = .seconds(13) }
            #expect(sampler.sample().cpuPercent == 0)
            try Self.write(Self.statLine(utime: 10_000, stime: 100), "\(proc)/stat")
            now.withLock { $0 = .seconds(14) }
            #expect(sampler.sample().cpuPercent == 100)
        }
    }

    @Test("unreadable or malformed files give zeros and a note, never a crash")
    func unreadable() async throws {
        try await withTemporaryDirectory { directory in
            let missing = ProcessSampler(dataDirectory: "\(directory)/nope", procDirectory: "\(directory)/none")
            let sample = missing.sample()
            #expect(sample.cpuPercent == 0 && sample.rssBytes == 0 && sample.diskUsedBytes == 0)
            #expect(sample.problems.count == 3)

            try Self.write("garbage without fields", "\(directory)/stat")
            try Self.write("12", "\(directory)/statm")
            let malformed = ProcessSampler(dataDirectory: directory, procDirectory: directory).sample()
            #expect(malformed.cpuPercent == 0 && malformed.rssBytes == 0)
            #expect(malformed.problems.count == 2)
        }
    }

    @Test("the real process: RSS above 1 MiB, CPU between 0 and 100 %")
    func realProcess() async throws {
        try await withTemporaryDirectory { directory in
            let sampler = ProcessSampler(dataDirectory: directory)
            var x = 0.0
            for i in 0..<200_000 { x += sqrt(Double(i)) }
            let sample = sampler.sample()
            #expect(x > 0)
            #expect(sample.rssBytes > 1 << 20)
            #expect((0...100).contains(sample.cpuPercent))
            #expect(sample.diskUsedBytes == 0)
            #expect(sample.problems.isEmpty)
        }
    }
}
