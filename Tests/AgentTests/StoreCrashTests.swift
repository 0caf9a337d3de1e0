import Foundation
import GRDB
import Testing

@testable import Agent

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Store crash safety", .timeLimit(.minutes(2)))
struct StoreCrashTests {
    /// Plays an agent that commits one batch of predictions, starts a second and is killed with
    /// SIGKILL in the middle of it (a separate process: python3's sqlite3 on the same file).
    static let crashingWriter = """
        import sqlite3, sys, time
        db = sqlite3.connect(sys.argv[1], isolation_level=None)
        db.execute("PRAGMA busy_timeout = 5000")
        def batch(first, count):
            for i in range(first, first + count):
                db.execute(
                    "INSERT INTO predictions (request_id, time, model_name, model_version, inputs, input_digest, outputs, latency_us)"
                    " VALUES (?, ?, 'digits', '1.0.0', '[1]', ?, '[0]', 5)", ("crash-%d" % i, i, "b" * 64))
        db.execute("BEGIN IMMEDIATE"); batch(0, 500); db.execute("COMMIT")
        db.execute("BEGIN IMMEDIATE"); batch(500, 500)
        print("mid-batch", flush=True)
        time.sleep(600)
        """

    @Test("a writer killed mid-batch leaves committed rows, none of the half-written batch, and a sound file")
    func killedMidBatch() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = StoreConfiguration(path: "\(directory)/agent.sqlite")
            let store = try await AgentStore.open(configuration)
            await recordAndFlush(store, 0..<100)
            _ = try await store.attachFeedback(labels(0..<10))
            await store.close()

            let script = "\(directory)/crash.py"
            try Self.crashingWriter.write(toFile: script, atomically: true, encoding: .utf8)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", script, configuration.path]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            var seen = Data()
            while !String(decoding: seen, as: UTF8.self).contains("mid-batch") {
                let chunk = output.fileHandleForReading.chunkRetryingInterrupts()
                guard !chunk.isEmpty else { break }
                seen.append(chunk)
            }
            #expect(String(decoding: seen, as: UTF8.self).contains("mid-batch"))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)

            let reopened = try await AgentStore.open(configuration)
            #expect(try await reopened.predictionCount() == 100 + 500)
            #expect(try await reopened.prediction("crash-499") != nil)
            #expect(try await reopened.prediction("crash-500") == nil)
            #expect(try await reopened.feedbackCounts().unbatched == 10)
            let check = try await reopened.pool.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") }
            #expect(check == "ok")
            // And it keeps working.
            await recordAndFlush(reopened, 100..<200)
            #expect(try await reopened.predictionCount() == 700)
            await reopened.close()
        }
    }
}
