import Agent
import Core
import Testing

@Suite("Agent version")
struct AgentVersionTests {
    @Test("the agent's version is a semantic version packages can require")
    func versionParses() throws {
        let version = try #require(SemanticVersion(AgentVersion.current))
        #expect(version >= SemanticVersion(0, 1, 0))
        #expect(version.prerelease.isEmpty)
    }
}
