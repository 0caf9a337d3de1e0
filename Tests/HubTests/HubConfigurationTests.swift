import Testing

@testable import Hub

@Suite("Hub configuration")
struct HubConfigurationTests {
    @Test("rollback checks take their defaults and their settings")
    func rollbackChecks() throws {
        let defaults = try HubConfiguration.load(file: nil, environment: [:], settings: [])
        #expect(defaults.rollouts.rollbackResendInterval == .seconds(60))
        #expect(defaults.rollouts.rollbackResends == 3)
        #expect(defaults.rollouts.rollbackCheckPeriod == .seconds(30 * 60))
        let set = try HubConfiguration.load(
            file: nil, environment: ["STARLING_HUB_ROLLOUTS_ROLLBACK_RESENDS": "1"],
            settings: ["rollouts.rollbackResendSeconds=2.5", "rollouts.rollbackCheckMinutes=0.5"])
        #expect(set.rollouts.rollbackResendInterval == .milliseconds(2500))
        #expect(set.rollouts.rollbackCheckPeriod == .seconds(30))
        #expect(set.rollouts.rollbackResends == 1)
        #expect(throws: (any Error).self) {
            try HubConfiguration.load(file: nil, environment: [:], settings: ["rollouts.rollbackResends=-1"])
        }
        do {
            _ = try HubConfiguration.load(file: nil, environment: ["STARLING_HUB_ROLLOUTS_NOPE": "1"], settings: [])
            Issue.record("an unknown variable was accepted")
        } catch {
            #expect("\(error)".contains("starling-hub config-keys"), "\(error)")
        }
    }
}
