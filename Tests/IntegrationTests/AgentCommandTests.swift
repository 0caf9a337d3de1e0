import Core
import Foundation
import Testing

/// The agent's configuration commands, as a user runs them.
@Suite("starling-agent commands")
struct AgentCommandTests {
    @Test("check-config accepts a good file, and refuses a bad value naming the key with exit status 64")
    func checkConfig() async throws {
        let directory = try makeTemporaryDirectory("starling-agent-config")
        defer { removeTree(directory) }
        try TrustRing(keys: [AgentFixture.hubKey.publicKey]).write(to: directory + "/trust.json")
        let config = """
            {"device": {"id": "dev-1"}, "dataDirectory": "\(directory)/data",
             "profile": {"name": "raspberry-pi-4", "directory": "\(AgentFixture.root)/firmware-profiles"},
             "trust": {"ringFile": "\(directory)/trust.json"}}
            """
        try writeText(config, to: directory + "/agent.json")

        let good = try AgentProcess(["check-config", directory + "/agent.json"])
        #expect(await good.line(containing: "configuration OK: device dev-1, profile raspberry-pi-4") != nil, "\(good.output)")
        await good.stop(SIGTERM)

        let bad = try AgentProcess(["check-config", directory + "/agent.json", "--set", "http.port=70000"])
        #expect(await bad.line(containing: "http.port from the command line") != nil, "\(bad.output)")
        let typo = try AgentProcess(["check-config", "--config", directory + "/agent.json", "--set", "mqtt.hots=x"])
        #expect(await typo.line(containing: "mqtt.host") != nil, "\(typo.output)")
        for process in [bad, typo] {
            await process.waitForExit()
            #expect(process.exitStatus == 64)
        }

        let keys = try AgentProcess(["config-keys"])
        #expect(await keys.line(containing: "updates.probationSeconds  STARLING_AGENT_UPDATES_PROBATION_SECONDS  300") != nil)
    }
}
