import Foundation
import Synchronization
import Testing

/// The hub commands against a fake hub: what they send (values passed through as written), how
/// they print answers (tables, JSON, errors), and usage errors caught before anything is sent.
@Suite("starling hub client")
struct HubClientTests {
    /// Runs `starling` against `hub` with a token.
    func run(_ hub: FakeHub, _ arguments: [String]) async throws -> CLIRunner.Result {
        try await HubCLI.run(arguments + ["--hub", hub.url, "--token", "stk_test"])
    }

    static let device = """
        {"id": "pi-7", "labels": {"site": "north", "tier": "canary"}, "profile": "raspberry-pi-4", "state": "enrolled",
         "enrolledAt": 1764000000000, "enrolledBy": "alice",
         "status": {"device": "pi-7", "presence": "online", "lastSeen": 1764000000000, "modelName": "digits",
                    "modelVersion": "1.2.0"}, "health": "healthy"}
        """

    static func rollout(_ state: String, phase: Int? = nil, onCandidate: Int = 0, events: [String] = []) -> String {
        let phaseField = phase.map { #", "phase": \#($0), "since": 1764000000000"# } ?? ""
        let reason = state == "rolledBack" ? #", "reason": "gate error_rate failed""# : ""
        let eventList = events.enumerated().map { #"{"time": \#(1_764_000_000_000 + $0.offset), "text": "\#($0.element)"}"# }
        return """
            {"id": "r-1", "model": "digits", "candidate": "1.3.0", "baseline": "1.2.0", "selector": "site=north",
             "plan": {"phases": [0.05, 0.25, 1.0], "gates": ["error_rate <= baseline + 0.01"], "minDevices": 3,
                      "observeMilliseconds": 600000, "onFail": "rollback", "split": null},
             "state": {"state": "\(state)"\(phaseField)\(reason)}, "createdAt": 1764000000000, "createdBy": "alice",
             "updatedAt": 1764000000000, "progress": {"target": 10, "assigned": \(onCandidate), "onCandidate": \(onCandidate), "onBaseline": \(10 - onCandidate)},
             "health": {"reportingDevices": \(onCandidate), "candidate": {"error_rate": 0.01}, "baseline": {"error_rate": 0.02}},
             "events": [\(eventList.joined(separator: ","))]}
            """
    }

    // MARK: - Passed through as written

    @Test("rollout create sends selectors, phases, gates and durations as written")
    func rolloutCreateBody() async throws {
        let hub = try FakeHub { _ in FakeHub.Response(201, Self.rollout("pending")) }
        defer { hub.stop() }
        let result = try await run(
            hub,
            [
                "rollout", "create", "--model", "digits", "--version", "1.3.0", "--target", "group:north", "--phases",
                "5%,25%,100%",
                "--gate", "error_rate <= baseline + 0.01", "--gate", "p95_latency <= 1.2 * baseline", "--gate",
                "accuracy >= baseline - 0.02", "--min-devices", "3", "--observe", "10m", "--on-fail", "pause", "--baseline",
                "1.2.0",
                "--split", "50%",
            ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Created rollout r-1"))
        let request = try #require(hub.requests.first)
        #expect(request.method == "POST" && request.path == "/api/v1/rollouts")
        #expect(request.headers["authorization"] == "Bearer stk_test")
        let body = try #require(request.json)
        #expect(body["model"] as? String == "digits" && body["version"] as? String == "1.3.0")
        #expect(body["target"] as? String == "group:north")
        #expect(body["phases"] as? String == "5%,25%,100%")
        #expect(
            body["gates"] as? [String] == [
                "error_rate <= baseline + 0.01", "p95_latency <= 1.2 * baseline", "accuracy >= baseline - 0.02",
            ])
        #expect(body["minDevices"] as? Int == 3 && body["observe"] as? String == "10m")
        #expect(
            body["onFail"] as? String == "pause" && body["baseline"] as? String == "1.2.0" && body["split"] as? String == "50%")
    }

    @Test("round watch prints each event once, also when the hub's window of recent events slides")
    func roundWatchSlidingEvents() async throws {
        let polls = Mutex(0)
        let hub = try FakeHub { _ in
            let poll = polls.withLock { count in
                count += 1
                return count
            }
            // The hub shows the two most recent events: each poll slides the window by one.
            let first = min(poll, 3)
            let events = (first...(first + 1)).map { ["time": 1000 + $0, "text": "event \($0)"] as [String: Any] }
            let body: [String: Any] = [
                "id": "rnd-1", "model": "digits", "baseVersion": "1.0.0", "selector": "", "iterations": 1, "history": [],
                "status": poll >= 3 ? "completed" : "running", "resultVersion": "1.1.0", "updatedAt": 1, "events": events,
            ]
            let json = String(decoding: try! JSONSerialization.data(withJSONObject: body), as: UTF8.self)
            return FakeHub.Response(200, json)
        }
        defer { hub.stop() }
        let result = try await run(hub, ["round", "watch", "rnd-1", "--interval", "1ms"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").filter { $0.hasPrefix("event ") }
        #expect(lines == ["event 1", "event 2", "event 3", "event 4"], "\(result.stdout)")
    }

    @Test("fleet list sends the selector as written and follows pages with --all")
    func fleetListSelectorAndPages() async throws {
        let hub = try FakeHub { request in
            let first = request.query("cursor") == nil
            return FakeHub.Response(
                200,
                first
                    ? #"{"items": [\#(Self.device)], "next": "c1"}"#
                    : #"{"items": [\#(Self.device.replacing("pi-7", with: "pi-8"))], "next": null}"#)
        }
        defer { hub.stop() }
        let result = try await run(hub, ["fleet", "list", "--selector", "site=north,tier in (canary,beta)", "--all"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(hub.requests.count == 2)
        #expect(hub.requests[0].query("selector") == "site=north,tier in (canary,beta)")
        #expect(hub.requests[0].query("limit") == "500")
        #expect(hub.requests[1].query("cursor") == "c1")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(
            lines.first?.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
                == "ID LABELS ONLINE MODEL@VERSION LAST SEEN HEALTH")
        #expect(lines.count == 3)
        #expect(lines[1].hasPrefix("pi-7  site=north,tier=canary  yes"))
        #expect(lines[1].contains("digits@1.2.0") && lines[1].contains("d ago") && lines[1].hasSuffix("healthy"))
        // Columns line up: every row starts its second column where the header does.
        let column = lines[0].range(of: "LABELS")!.lowerBound.utf16Offset(in: lines[0])
        #expect(lines.dropFirst().allSatisfy { $0.range(of: "site=")!.lowerBound.utf16Offset(in: $0) == column })
    }

    @Test("--limit stops early and says that more follow; --json prints one page's shape")
    func limitAndJSON() async throws {
        let hub = try FakeHub { _ in FakeHub.Response(200, #"{"items": [\#(Self.device)], "next": "c1"}"#) }
        defer { hub.stop() }
        let result = try await run(hub, ["fleet", "list", "--limit", "1", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(hub.requests.count == 1 && hub.requests[0].query("limit") == "1")
        let page = try #require(result.json as? [String: Any])
        #expect((page["items"] as? [Any])?.count == 1 && page["next"] as? String == "c1")
        #expect(result.stderr.contains("--cursor c1"))
    }

    @Test("registry upload sends the file, lineage in the query and metadata in the header")
    func uploadRequest() async throws {
        let version =
            #"{"model": "digits", "version": "1.1.0", "metadata": {}, "lineage": {"dataDigests": []}, "modelFile": {"digest": "aa", "size": 3}, "package": {"digest": "bb", "size": 9}, "packageId": "0123456789abcdef0123", "signingKeyId": "k1", "registeredAt": 1764000000000, "registeredBy": "alice", "tags": {}}"#
        let hub = try FakeHub { _ in FakeHub.Response(201, version) }
        defer { hub.stop() }
        let directory = try CLIRunner.temporaryDirectory()
        defer { CLIRunner.removeDirectory(directory) }
        let file = directory + "/m.onnx"
        let bytes = (0..<5000).map { UInt8($0 % 251) }
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let result = try await run(
            hub,
            [
                "registry", "upload", "digits", "1.1.0", file, "--parent", "1.0.0", "--training-run", "run 42", "--data-digest",
                "d1",
                "--data-digest", "d2", "--metadata", #"{"accuracy": 0.97, "note": "große"}"#, "--onnx", "--quantize",
                "--calibration", "digits-cal",
            ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Registered digits 1.1.0: package 0123456789abcdef"))
        #expect(result.stderr.contains("uploading") && result.stderr.contains("(100%)"))
        let request = try #require(hub.requests.first)
        #expect(request.path == "/api/v1/models/digits/versions")
        #expect(request.body == bytes)
        #expect(request.headers["content-type"] == "application/octet-stream")
        #expect(
            request.query("version") == "1.1.0" && request.query("parent") == "1.0.0" && request.query("trainingRun") == "run 42")
        #expect(request.query.filter { $0.0 == "dataDigest" }.map(\.1) == ["d1", "d2"])
        #expect(
            request.query("format") == "onnx" && request.query("quantize") == "int8"
                && request.query("calibration") == "digits-cal")
        let metadata = try #require(request.headers["starling-metadata"])
        let parsed = try JSONSerialization.jsonObject(with: Data(metadata.utf8)) as? [String: Any]
        #expect(parsed?["accuracy"] as? Double == 0.97 && parsed?["note"] as? String == "große")
    }

    // MARK: - Errors

    @Test("the hub's error body is one line with code and status, exit 1")
    func errorRendering() async throws {
        let hub = try FakeHub { request in
            if request.path.hasSuffix("/approve") {
                return .error(409, code: "sameApprover", "four-eyes: 'alice' requested approval 1 and cannot approve it")
            }
            if request.path.hasSuffix("/groups") { return .error(404, code: "notFound", "Not Found") }
            return FakeHub.Response(502, "<html>bad gateway</html>", headers: ["Content-Type": "text/html"])
        }
        defer { hub.stop() }
        let refused = try await run(hub, ["registry", "approve", "digits", "1"])
        #expect(refused.status == 1)
        #expect(
            refused.stderr == "error: four-eyes: 'alice' requested approval 1 and cannot approve it (sameApprover, HTTP 409)\n")
        #expect(refused.stdout.isEmpty)
        let proxy = try await run(hub, ["registry", "models"])
        #expect(proxy.status == 1)
        #expect(proxy.stderr.hasPrefix("error: the hub answered: <html>bad gateway</html> (HTTP 502)"))
        let older = try await run(hub, ["group", "list"])
        #expect(older.status == 1)
        #expect(
            older.stderr == "error: the hub has no route GET /api/v1/groups (is it older than this CLI?) (notFound, HTTP 404)\n")
    }

    @Test("a refused connection names the URL, exit 1")
    func connectionRefused() async throws {
        let hub = try FakeHub { _ in FakeHub.Response(200) }
        hub.stop()  // a port that was free a moment ago and has no listener now
        let result = try await HubCLI.run(["registry", "models"], environment: ["STARLING_HUB_URL": hub.url])
        #expect(result.status == 1)
        #expect(result.stderr.contains("cannot connect to the hub at \(hub.url)"))
    }

    @Test(
        "usage errors are caught before sending, exit 64",
        arguments: [
            ["rollout", "create", "--model", "m", "--version", "1.0.0", "--target", "a=b", "--observe", "10x"],
            ["rollout", "create", "--model", "m", "--version", "1.0.0", "--target", "a=b", "--observe", "1.5h"],
            ["rollout", "create", "--model", "m", "--version", "1.0.0", "--target", "a=b", "--phases", "5%,abc"],
            ["rollout", "create", "--model", "m", "--version", "1.0.0", "--target", "a=b", "--phases", "50%,25%,100%"],
            ["rollout", "create", "--model", "m", "--version", "1.0.0", "--target", "a=b", "--phases", "5,100"],
            ["rollout", "create", "--model", "m", "--version", "1.0.0", "--target", "a=b", "--split", "100%"],
            ["rollout", "create", "--model", "m", "--version", "1.0.0", "--target", "a=b", "--on-fail", "explode"],
            ["rollout", "create", "--model", "m", "--version", "1.0.0", "--target", "a=b", "--min-devices", "0"],
            ["rollout", "watch", "r-1", "--interval", "soon"],
            ["fleet", "enroll", "pi-7", "--profile", "p", "--out", "/tmp/x", "--labels", "site"],
            ["fleet", "label", "pi-7", "site=a,site=b"],
            ["registry", "upload", "m", "1.0.0", "f", "--metadata", "[1]"],
            ["registry", "upload", "m", "1.0.0", "f", "--quantize"],
            ["token", "create", "--role", "root", "--subject", "x"],
            ["registry", "models", "--limit", "0"],
            ["registry", "models", "--token", "a", "--token-file", "b"],
            ["registry", "models", "--hub", "ftp://hub"],
        ])
    func usageErrors(arguments: [String]) async throws {
        let hub = try FakeHub { _ in FakeHub.Response(200, "{}") }
        defer { hub.stop() }
        let result = try await HubCLI.run(arguments, environment: ["STARLING_HUB_URL": hub.url])
        #expect(result.status == 64, "\(arguments): \(result.stderr)")
        #expect(hub.requests.isEmpty)
    }

    // MARK: - Enrolment bundle

    @Test("fleet enroll writes the bundle (directory 0700, password 0600) and never prints the password")
    func enrollWritesBundle() async throws {
        let answer =
            #"{"device": \#(Self.device), "files": {"agent.json": "{\"device\": {\"id\": \"pi-7\"}}\n", "mqtt-password": "s3cret-pass", "trust.json": {"keys": []}}}"#
        let hub = try FakeHub { _ in FakeHub.Response(201, answer) }
        defer { hub.stop() }
        let directory = try CLIRunner.temporaryDirectory()
        defer { CLIRunner.removeDirectory(directory) }
        let out = directory + "/bundle"
        let result = try await run(
            hub,
            [
                "fleet", "enroll", "pi-7", "--labels", "site=north,tier=canary", "--profile", "raspberry-pi-4", "--out", out,
                "--broker-host", "broker.example.net", "--broker-port", "8883", "--ca-file", "none",
            ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.stdout.contains("in no other place") && !result.stdout.contains("s3cret") && !result.stderr.contains("s3cret"))
        let body = try #require(hub.requests.first?.json)
        #expect(body["id"] as? String == "pi-7" && body["profile"] as? String == "raspberry-pi-4")
        #expect(body["labels"] as? [String: String] == ["site": "north", "tier": "canary"])
        #expect(body["brokerHost"] as? String == "broker.example.net" && body["brokerPort"] as? Int == 8883)
        #expect(body["caFile"] as? String == "none")
        #expect(try String(contentsOfFile: out + "/mqtt-password", encoding: .utf8) == "s3cret-pass")
        #expect(try String(contentsOfFile: out + "/agent.json", encoding: .utf8) == "{\"device\": {\"id\": \"pi-7\"}}\n")
        let trust =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/trust.json"))) as? [String: Any]
        #expect((trust?["keys"] as? [Any])?.isEmpty == true)
        func mode(_ path: String) throws -> Int {
            (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
        }
        #expect(try mode(out) == 0o700 && mode(out + "/mqtt-password") == 0o600)

        // A second enrolment into the same directory is refused before the hub is asked.
        let again = try await run(hub, ["fleet", "enroll", "pi-7", "--profile", "p", "--out", out])
        #expect(again.status == 1 && again.stderr.contains("exists"))
        #expect(hub.requests.count == 1)
    }

    @Test("a bundle file name that leaves the directory is refused")
    func enrollRefusesPaths() async throws {
        let answer = #"{"device": \#(Self.device), "files": {"../escape": "x"}}"#
        let hub = try FakeHub { _ in FakeHub.Response(201, answer) }
        defer { hub.stop() }
        let directory = try CLIRunner.temporaryDirectory()
        defer { CLIRunner.removeDirectory(directory) }
        let result = try await run(hub, ["fleet", "enroll", "pi-7", "--profile", "p", "--out", directory + "/b"])
        #expect(result.status == 1 && result.stderr.contains("not a plain file name"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/escape"))
    }

    // MARK: - Rollout watch

    @Test("rollout watch prints a line per change and exits 0 when the rollout completes")
    func watchCompletes() async throws {
        let answers = [
            Self.rollout("observing", phase: 0, onCandidate: 1, events: ["phase 1 started"]),
            Self.rollout("observing", phase: 0, onCandidate: 1, events: ["phase 1 started"]),
            Self.rollout("observing", phase: 1, onCandidate: 3, events: ["phase 1 started", "phase 2 started: gates passed"]),
            Self.rollout(
                "completed", onCandidate: 10, events: ["phase 1 started", "phase 2 started: gates passed", "completed"]),
        ]
        let hub = try Self.sequence(answers)
        defer { hub.stop() }
        let result = try await run(hub, ["rollout", "watch", "r-1", "--interval", "10ms"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(hub.requests.count == 4)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        // Three state lines (the unchanged second answer prints nothing) and three events, each once.
        #expect(lines.filter { $0.contains("on 1.3.0") }.count == 3, "\(lines)")
        #expect(lines.filter { $0.hasSuffix("phase 1 started") }.count == 1)
        #expect(lines.contains { $0.contains("observing phase 2/3  3/10 on 1.3.0") })
        #expect(lines.last?.contains("completed") == true)
    }

    @Test("rollout watch exits 1 when the rollout is rolled back")
    func watchRolledBack() async throws {
        let hub = try Self.sequence([
            Self.rollout("observing", phase: 0, onCandidate: 1), Self.rollout("rolledBack", onCandidate: 0),
        ])
        defer { hub.stop() }
        let result = try await run(hub, ["rollout", "watch", "r-1", "--interval", "10ms"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("rolledBack: gate error_rate failed"))
    }

    /// A hub answering `GET /rollouts/r-1` with `answers` in turn, then the last one forever.
    static func sequence(_ answers: [String]) throws -> FakeHub {
        let next = Counter()
        return try FakeHub { _ in FakeHub.Response(200, answers[min(next.increment(), answers.count - 1)]) }
    }

    // MARK: - Shows

    @Test("rollout show prints plan, progress, health and events")
    func rolloutShow() async throws {
        let hub = try FakeHub { _ in
            FakeHub.Response(200, Self.rollout("observing", phase: 1, onCandidate: 3, events: ["phase 2 started"]))
        }
        defer { hub.stop() }
        let result = try await run(hub, ["rollout", "show", "r-1"])
        #expect(result.status == 0, "\(result.stderr)")
        for text in [
            "state        observing phase 2/3", "phases       5%,25%,100%", "observe      10m",
            "gate         error_rate <= baseline + 0.01",
            "error_rate  0.01", "phase 2 started",
        ] {
            #expect(result.stdout.contains(text), "\(text) in \(result.stdout)")
        }
    }

    @Test("download refuses a body whose SHA-256 is not the announced one")
    func downloadChecksDigest() async throws {
        let hub = try FakeHub { _ in
            FakeHub.Response(200, "model bytes", headers: ["ETag": "\"" + String(repeating: "0", count: 64) + "\""])
        }
        defer { hub.stop() }
        let directory = try CLIRunner.temporaryDirectory()
        defer { CLIRunner.removeDirectory(directory) }
        let result = try await run(hub, ["registry", "download", "digits", "1.0.0", "-o", directory + "/m.starling"])
        #expect(result.status == 1 && result.stderr.contains("SHA-256"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/m.starling"))
    }
}

/// A thread-safe counter for fake hubs answering in sequence.
final class Counter: Sendable {
    private let value = Mutex(0)

    /// The value before incrementing it.
    func increment() -> Int {
        value.withLock { count in
            defer { count += 1 }
            return count
        }
    }
}
