import Core
import Foundation
import Testing

@testable import TransportMQTT

/// The whole fleet, for real: Mosquitto with the password and ACL files the hub writes, the
/// `starling-hub` process, three `starling-agent` processes enrolled through the REST API, and
/// local traffic with labelled feedback. Three digits models are trained with the `starling`
/// CLI: a good 1.0.0, a regressed 2.0.0 (barely trained) and a good 3.0.0.
@Suite("hub end to end: enrol, canary, rollback, restart", .serialized)
struct HubEndToEndTests {
    static let bin = AgentProcess.binDirectory.path
    static let root = AgentFixture.root

    /// Runs the scenario's pieces; everything is stopped and removed afterwards.
    final class Stage: @unchecked Sendable {
        let broker: TestBroker
        let directory: String
        let configFile: String
        var hub: AgentProcess?
        var hubPort = 0
        var agents: [(id: String, process: AgentProcess, port: Int)] = []
        let admin: String
        let traffic = Locked(true)
        let sent = Locked(0)

        init(broker: TestBroker) throws {
            self.broker = broker
            directory = broker.directory + "/e2e"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let pidFile = broker.directory + "/mosquitto.pid"
            try FileIO.writeAtomically(Array("\(broker.pid!)\n".utf8), to: pidFile)
            configFile = directory + "/hub.json"
            try writeText(
                """
                {"dataDirectory": "\(directory)/hub", "http": {"port": 0},
                 "mqtt": {"host": "127.0.0.1", "port": \(broker.port)},
                 "broker": {"passwordFile": "\(broker.passwordFile)", "aclFile": "\(broker.aclFile)", "pidFile": "\(pidFile)"},
                 "rollouts": {"tickSeconds": 0.25}}
                """, to: configFile)
            // The secret is the line of its own (a note goes to standard error).
            admin = try runCommand([
                "\(HubEndToEndTests.bin)/starling-hub", "token", "create", "--role", "admin", "--subject", "ops",
                "--data", "\(directory)/hub",
            ]).split(separator: "\n").map(String.init).first { $0.hasPrefix("stk_") } ?? "missing"
        }

        func startHub() async throws {
            let hub = try AgentProcess(["serve", "--config", configFile], executable: "starling-hub")
            self.hub = hub
            hubPort = try #require(await hub.port(after: "listening on "))
            #expect(await hub.line(containing: "broker session up") != nil, "the hub did not reach the broker")
        }

        func stopHub() async {
            await hub?.stop()
            hub = nil
        }

        /// A call to the hub's API with the admin token (or `token`): status and JSON body.
        func api(_ method: String, _ path: String, json: String? = nil, file: String? = nil, token: String? = nil)
            async throws -> (Int, [String: Any])
        {
            var arguments = [
                "curl", "-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, "-H",
                "Authorization: Bearer \(token ?? admin)",
            ]
            if let json { arguments += ["-H", "Content-Type: application/json", "--data", json] }
            if let file { arguments += ["-H", "Content-Type: application/octet-stream", "--data-binary", "@\(file)"] }
            arguments.append("http://127.0.0.1:\(hubPort)/api/v1\(path)")
            let command = arguments
            let output = try await offThread { try runCommand(command) }
            let status = Int(output.split(separator: "\n").last ?? "") ?? 0
            let body = output.split(separator: "\n").dropLast().joined(separator: "\n")
            let object = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
            return (status, object)
        }

        /// Trains (and quantizes) a digits model with the CLI; `good` ones reach about 95 %.
        func train(_ name: String, good: Bool, seed: Int) throws -> String {
            let fp32 = "\(directory)/\(name)-fp32.starling"
            let int8 = "\(directory)/\(name).starling"
            let split = "\(HubEndToEndTests.root)/data/digits_dirichlet05_20clients.json"
            let data = "\(HubEndToEndTests.root)/data/digits.csv"
            _ = try runCommand([
                "\(HubEndToEndTests.bin)/starling", "model", "train", "--data", data, "--label", "label", "--split", split,
                "--arch", "mlp:32", "--scale", "divide:16", "--epochs", good ? "8" : "1", "--lr", good ? "0.01" : "0.00002",
                "--seed", String(seed), "--quiet", "--out", fp32,
            ])
            _ = try runCommand([
                "\(HubEndToEndTests.bin)/starling", "model", "quantize", fp32, "--calibration", data, "--split", split,
                "--out", int8,
            ])
            return int8
        }

        /// Enrols `id` through the API and starts its agent from the bundle.
        func enrolAndStart(_ id: String) async throws {
            let (status, body) = try await api(
                "POST", "/devices", json: #"{"id": "\#(id)", "labels": {"fleet": "e2e"}, "profile": "x86-64-gateway"}"#)
            #expect(status == 201, "enrolling \(id): \(body)")
            let files = try #require(body["files"] as? [String: String])
            let bundle = "\(directory)/\(id)"
            try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
            for (name, text) in files {
                try FileIO.writeAtomically(
                    Array(text.utf8), to: "\(bundle)/\(name)", mode: ["device.key", "mqtt-password"].contains(name) ? 0o600 : 0o644)
            }
            let agent = try AgentProcess([
                "run", "--config", "\(bundle)/agent.json", "--set", "dataDirectory=\(bundle)/data", "--set", "http.port=0",
                "--set", "trust.ringFile=\(bundle)/trust.json", "--set", "mqtt.passwordFile=\(bundle)/mqtt-password",
                "--set", "device.keyFile=\(bundle)/device.key",
                "--set", "profile.directory=\(HubEndToEndTests.root)/firmware-profiles", "--set", "telemetry.intervalSeconds=1",
                "--set", "updates.probationSeconds=1", "--set", "privacy.inputs=full",
                // dev-c sends its federated updates in 1 KiB parts, as for a broker with a small limit.
                "--set", "federated.maxMessageBytes=\(id == "dev-c" ? 1024 : 262_144)",
            ])
            agents.append((id, agent, try #require(await agent.port())))
        }

        /// Sends test rows to every agent, each followed by its label as feedback, until stopped.
        func startTraffic() throws {
            let rows = try HubEndToEndTests.testRows()
            let ports = agents.map(\.port)
            let traffic = traffic
            let sent = sent
            Thread {
                var index = 0
                var inputs: [Int: String] = [:]
                while traffic.withLock({ $0 }) {
                    for port in ports {
                        guard let input = inputs[port] ?? HubEndToEndTests.inputName(port: port) else { continue }
                        inputs[port] = input
                        let (pixels, label) = rows[index % rows.count]
                        let id = "p-\(port)-\(index)"
                        let body = #"{"id": "\#(id)", "inputs": [{"name": "\#(input)", "shape": [1, 64], "datatype": "FP32", "data": [\#(pixels)]}]}"#
                        let reply = (try? runCommand([
                            "curl", "-s", "-X", "POST", "-H", "Content-Type: application/json", "--data", body,
                            "http://127.0.0.1:\(port)/v2/models/digits/infer",
                        ])) ?? ""
                        if reply.contains("\"outputs\"") {
                            _ = try? runCommand([
                                "curl", "-s", "-X", "POST", "-H", "Content-Type: application/json", "--data",
                                #"{"id": "\#(id)", "label": "\#(label)"}"#,
                                "http://127.0.0.1:\(port)/v2/models/digits/feedback",
                            ])
                            sent.withLock { $0 += 1 }
                        }
                    }
                    index += 1
                    if index % 10 == 0 { usleep(20_000) }
                }
            }.start()
        }

        /// Polls rollout `id` until it is in one of `states`; its last body. The bound is generous: the
        /// whole suite runs beside this test on two cores.
        func waitForRollout(_ id: String, _ states: Set<String>, timeout: Duration = .seconds(400)) async throws -> [String: Any] {
            var last: [String: Any] = [:]
            let reached = try await eventually(timeout: timeout) {
                last = try await api("GET", "/rollouts/\(id)").1
                return states.contains((last["state"] as? [String: Any])?["state"] as? String ?? "")
            }
            #expect(reached, "rollout \(id) never reached \(states): \(last["state"] ?? "nothing"), events \(last["events"] ?? [])")
            return last
        }

        /// Waits until every agent serves `version`.
        func waitForVersion(_ version: String, on ids: [String]? = nil) async throws {
            for agent in agents where ids?.contains(agent.id) ?? true {
                let served = try await eventually(timeout: .seconds(300)) {
                    try await AgentFixture.servedVersion(port: agent.port) == version
                }
                if !served {
                    let tail = agent.process.output.suffix(60).joined(separator: "\n")
                    let device = (try? await api("GET", "/devices/\(agent.id)").1) ?? [:]
                    Issue.record("\(agent.id) does not serve \(version); hub: \(device)\nits last lines:\n\(tail)")
                }
            }
        }

        func shutdown() async {
            traffic.withLock { $0 = false }
            for agent in agents { await agent.process.stop() }
            await stopHub()
        }
    }

    /// The model's input name, once the agent at `port` serves one.
    static func inputName(port: Int) -> String? {
        guard let text = try? runCommand(["curl", "-s", "http://127.0.0.1:\(port)/v2/models/digits"]),
            let description = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
            let inputs = description["inputs"] as? [[String: Any]]
        else { return nil }
        return inputs.first?["name"] as? String
    }

    /// The 360 held-out rows as JSON pixel lists with their labels.
    static func testRows() throws -> [(String, String)] {
        let text = try String(contentsOfFile: "\(root)/data/digits.csv", encoding: .utf8)
        let lines = text.split(separator: "\n").dropFirst().map(String.init)
        let split = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: "\(root)/data/digits_dirichlet05_20clients.json"))) as! [String: Any]
        let test = split["test_indices"] as! [Int]
        return test.map { index in
            let fields = lines[index].split(separator: ",")
            return (fields.dropLast().joined(separator: ","), String(fields.last!))
        }
    }

    @Test("enrol → publish → canary → all; a regression rolls back by itself; a hub restart mid-rollout resumes; viewers and self-approvals are refused; a federated round registers 3.1.0")
    func fleetStory() async throws {
        let broker = try TestBroker(.init(anonymous: false, accounts: ["placeholder": "unused"], acl: MosquittoACL()))
        let stage = try Stage(broker: broker)
        defer { removeTree(broker.directory) }
        do {
            try await story(stage)
        } catch {
            Issue.record("the story stopped: \(error)")
        }
        await stage.shutdown()
        await broker.shutdown()
    }

    private func story(_ stage: Stage) async throws {
        try await stage.startHub()
        let good = try stage.train("v1", good: true, seed: 3)
        let bad = try stage.train("v2", good: false, seed: 4)
        let better = try stage.train("v3", good: true, seed: 5)
        #expect(try await stage.api("POST", "/models", json: #"{"name": "digits", "fourEyes": true}"#).0 == 201)
        for (version, file) in [("1.0.0", good), ("2.0.0", bad), ("3.0.0", better)] {
            #expect(try await stage.api("POST", "/models/digits/versions?version=\(version)", file: file).0 == 201)
        }
        for id in ["dev-a", "dev-b", "dev-c"] { try await stage.enrolAndWaitOnline(id) }
        try stage.startTraffic()

        // 1.0.0 is the first version: no baseline, so constant gates and pause on failure.
        var (status, rollout) = try await stage.api(
            "POST", "/rollouts",
            json: #"{"model": "digits", "version": "1.0.0", "target": "fleet=e2e", "phases": "33%,100%", "gates": ["error_rate <= 0.05"], "minDevices": 1, "minSamples": 20, "observe": "2s", "onFail": "pause"}"#)
        #expect(status == 201, "\(rollout)")
        var id = try #require(rollout["id"] as? String)
        _ = try await stage.waitForRollout(id, ["completed"])
        try await stage.waitForVersion("1.0.0")

        // 2.0.0 is barely trained: the canary's feedback accuracy falls far below the baseline's.
        (status, rollout) = try await stage.api(
            "POST", "/rollouts",
            json: #"{"model": "digits", "version": "2.0.0", "target": "fleet=e2e", "phases": "33%,100%", "gates": ["accuracy >= baseline - 0.25", "error_rate <= baseline + 0.05"], "minDevices": 1, "minSamples": 20, "observe": "60s"}"#)
        #expect(status == 201, "\(rollout)")
        #expect(rollout["baseline"] as? String == "1.0.0")
        id = try #require(rollout["id"] as? String)
        let rolledBack = try await stage.waitForRollout(id, ["rolledBack"])
        let reason = (rolledBack["state"] as? [String: Any])?["reason"] as? String ?? ""
        #expect(reason.contains("accuracy"), "\(reason)")
        try await stage.waitForVersion("1.0.0")

        // 3.0.0: the hub stops while the canary observes, and the new hub process finishes the job.
        (status, rollout) = try await stage.api(
            "POST", "/rollouts",
            json: #"{"model": "digits", "version": "3.0.0", "target": "fleet=e2e", "phases": "33%,100%", "gates": ["accuracy >= baseline - 0.25"], "minDevices": 1, "minSamples": 20, "observe": "5s"}"#)
        #expect(status == 201, "\(rollout)")
        id = try #require(rollout["id"] as? String)
        await stage.stopHub()
        try await stage.startHub()
        _ = try await stage.waitForRollout(id, ["completed"])
        try await stage.waitForVersion("3.0.0")
        #expect(stage.sent.withLock { $0 } > 0)

        // A viewer can read but not change; an approval by its own requester is refused.
        let (created, issued) = try await stage.api("POST", "/tokens", json: #"{"subject": "vera", "role": "viewer"}"#)
        #expect(created == 201)
        let viewer = try #require(issued["secret"] as? String)
        #expect(try await stage.api("GET", "/rollouts", token: viewer).0 == 200)
        let (forbidden, error) = try await stage.api(
            "POST", "/rollouts/\(id)/abort", json: #"{"reason": "no"}"#, token: viewer)
        #expect(forbidden == 403 && (error["error"] as? [String: Any])?["code"] as? String == "forbidden")
        let (requested, approval) = try await stage.api(
            "POST", "/models/digits/approvals", json: #"{"version": "3.0.0", "alias": "production"}"#)
        #expect(requested == 201)
        let approvalID = try #require(approval["id"] as? Int)
        let (refused, sameApprover) = try await stage.api("POST", "/models/digits/approvals/\(approvalID)/approve")
        #expect(refused == 409 && (sameApprover["error"] as? [String: Any])?["code"] as? String == "sameApprover")

        try await federatedRound(stage)
    }

    /// A small federated round on the three agents over the real broker: two iterations from
    /// 3.0.0 on the devices' labelled feedback (int8 updates, float16 global), then the devices
    /// evaluate the result, which the hub registers as 3.1.0.
    private func federatedRound(_ stage: Stage) async throws {
        // The gateway profile trains only when idle: the labelled traffic so far is the data.
        stage.traffic.withLock { $0 = false }
        try await Task.sleep(for: .seconds(1))
        let (status, started) = try await stage.api(
            "POST", "/rounds",
            json: #"{"model": "digits", "fromVersion": "3.0.0", "rounds": 2, "minClients": 3, "deadline": "90s", "localEpochs": 1, "lr": 0.05, "encoding": "int8", "downEncoding": "float16", "minExamples": 5, "normBound": 1000}"#)
        #expect(status == 201, "\(started)")
        let id = try #require(started["id"] as? String)
        var round: [String: Any] = [:]
        let ended = try await eventually(timeout: .seconds(400)) {
            round = try await stage.api("GET", "/rounds/\(id)").1
            return (round["status"] as? String ?? "running") != "running"
        }
        #expect(ended && round["status"] as? String == "completed", "round \(id): \(round["status"] ?? "?"), \(round["message"] ?? ""), events \(round["events"] ?? [])")
        #expect(round["resultVersion"] as? String == "3.1.0")
        let history = round["history"] as? [[String: Any]] ?? []
        #expect(history.map { $0["kind"] as? String ?? "" } == ["fit", "fit", "evaluate"])
        for iteration in history {
            #expect((iteration["participants"] as? [String])?.sorted() == ["dev-a", "dev-b", "dev-c"], "\(iteration)")
            #expect((iteration["bytesUp"] as? Int ?? 0) > 0 || iteration["kind"] as? String == "evaluate")
        }
        let parted = stage.agents.first { $0.id == "dev-c" }?.process.output.contains { $0.contains("goes out in") } ?? false
        #expect(parted, "dev-c sent its updates in parts")
        // The final global, evaluated on the devices' own labels: a model that learned the digits.
        let accuracy = history.last?["accuracy"] as? Double ?? 0
        #expect(accuracy > 0.6, "federated accuracy of the result: \(accuracy)")
        let (found, version) = try await stage.api("GET", "/models/digits/versions/3.1.0")
        #expect(found == 200 && (version["lineage"] as? [String: Any])?["federatedRound"] as? String == id, "\(version)")
    }
}

extension HubEndToEndTests.Stage {
    func enrolAndWaitOnline(_ id: String) async throws {
        try await enrolAndStart(id)
        // The device shows up online in the hub's live status.
        let online = try await eventually(timeout: .seconds(30)) {
            let (_, device) = try await api("GET", "/devices/\(id)")
            return (device["status"] as? [String: Any])?["presence"] as? String == "online"
        }
        #expect(online, "\(id) never showed up online")
    }
}
