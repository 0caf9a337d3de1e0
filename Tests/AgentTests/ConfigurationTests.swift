import Core
import Agent
import Foundation
import Testing

/// A temporary directory removed when the value is dropped at the end of a test.
final class ScratchDirectory {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "starling-agent-tests-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `text` to `name` inside the directory and returns its path.
    func write(_ name: String, _ text: String) -> String {
        let file = path + "/" + name
        FileManager.default.createFile(atPath: file, contents: Data(text.utf8))
        return file
    }
}

@Suite("Agent configuration")
struct ConfigurationTests {
    static let minimal = """
        {"device": {"id": "pi-7", "groups": ["north", "canary"]}, "dataDirectory": "/var/lib/starling",
         "profile": {"name": "raspberry-pi-4"}, "trust": {"ringFile": "/etc/starling/trust.json"}}
        """

    @Test("a minimal file gets the documented defaults")
    func defaults() throws {
        let scratch = ScratchDirectory()
        let config = try AgentConfiguration.load(file: scratch.write("agent.json", Self.minimal))
        #expect(config.deviceID == "pi-7")
        #expect(config.groups == ["north", "canary"])
        #expect(config.http.host == "127.0.0.1")
        #expect(config.http.port == 8080)
        #expect(config.inference.maxBatch == 32)
        #expect(config.inference.maxWait == .microseconds(500))
        #expect(config.inputPrivacy == .digest)
        #expect(config.mqtt.enabled)
        #expect(config.mqtt.keepalive == .seconds(30))
        #expect(config.mqtt.sessionExpiry == .seconds(604_800))
        #expect(config.updates.maxLatencyRatio == 2)
        #expect(config.storageBudgetBytes == nil)
        #expect(config.mallocArenas == 1)
        #expect(config.federated.maxMessageBytes == 262_144)
    }

    @Test("the malloc arena limit is set through glibc's mallopt; 0 leaves the default")
    func mallocArenas() {
        #expect(MallocArenas.limit(0) == false)
        #expect(MallocArenas.limit(8) == true)
    }

    @Test("flags win over the environment, which wins over the file")
    func layering() throws {
        let scratch = ScratchDirectory()
        let file = scratch.write("agent.json", Self.minimal.replacingOccurrences(of: "\"dataDirectory\"", with: "\"http\": {\"port\": 9000}, \"dataDirectory\""))
        let fromFile = try AgentConfiguration.load(file: file)
        #expect(fromFile.http.port == 9000)
        let environment = ["STARLING_AGENT_HTTP_PORT": "9100", "STARLING_AGENT_MQTT_KEEPALIVE_SECONDS": "45", "PATH": "/bin"]
        let fromEnvironment = try AgentConfiguration.load(file: file, environment: environment)
        #expect(fromEnvironment.http.port == 9100)
        #expect(fromEnvironment.mqtt.keepalive == .seconds(45))
        let fromFlags = try AgentConfiguration.load(file: file, environment: environment, settings: ["http.port=9200", "device.groups=a,b"])
        #expect(fromFlags.http.port == 9200)
        #expect(fromFlags.groups == ["a", "b"])
        #expect(fromFlags.mqtt.keepalive == .seconds(45))
    }

    @Test("environment names follow the keys")
    func environmentNames() {
        #expect(ConfigSchema.agent.environmentName(of: "http.port") == "STARLING_AGENT_HTTP_PORT")
        #expect(ConfigSchema.agent.environmentName(of: "mqtt.tls.caFile") == "STARLING_AGENT_MQTT_TLS_CA_FILE")
        #expect(ConfigSchema.agent.environmentName(of: "dataDirectory") == "STARLING_AGENT_DATA_DIRECTORY")
        let names = ConfigSchema.agent.entries.map { ConfigSchema.agent.environmentName(of: $0.key) }
        #expect(Set(names).count == names.count, "two keys share an environment variable")
    }

    /// Each bad setting and the key its error must name.
    static let refusals: [(settings: [String], environment: [String: String], code: ConfigurationError.Code, key: String?)] = [
        (["http.port=70000"], [:], .invalidValue, "http.port"),
        (["http.port=eighty"], [:], .invalidValue, "http.port"),
        (["device.id=pi/7"], [:], .invalidValue, "device.id"),
        (["device.groups=a,a"], [:], .invalidValue, "device.groups"),
        (["privacy.inputs=everything"], [:], .invalidValue, "privacy.inputs"),
        (["mqtt.enabled=maybe"], [:], .invalidValue, "mqtt.enabled"),
        (["updates.maxErrorRateIncrease=2"], [:], .invalidValue, "updates.maxErrorRateIncrease"),
        (["http.prot=80"], [:], .unknownKey, "http.prot"),
        (["http.port"], [:], .malformed, nil),
        ([], ["STARLING_AGENT_HTTP_PROT": "80"], .unknownKey, nil),
        (["http.host=0.0.0.0"], [:], .invalidValue, "http.host"),
        (["mqtt.tls.certFile=/c.pem"], [:], .invalidValue, "mqtt.tls.keyFile"),
        (["mqtt.tls.certFile=/c.pem", "mqtt.tls.keyFile=/k.pem"], [:], .missingKey, "mqtt.tls.caFile"),
        (["mqtt.username=pi-7"], [:], .invalidValue, "mqtt.passwordFile"),
    ]

    @Test("a bad setting is refused with an error naming its key", arguments: 0..<refusals.count)
    func refused(_ index: Int) throws {
        let case_ = Self.refusals[index]
        let scratch = ScratchDirectory()
        let file = scratch.write("agent.json", Self.minimal)
        let error = try #require(throws: ConfigurationError.self) {
            try AgentConfiguration.load(file: file, environment: case_.environment, settings: case_.settings)
        }
        #expect(error.code == case_.code)
        #expect(error.key == case_.key)
        if let key = case_.key { #expect(error.message.contains(key)) }
    }

    @Test("a typo is refused with a suggestion; http.allowRemote admits a public address")
    func suggestionsAndRemote() throws {
        let scratch = ScratchDirectory()
        let file = scratch.write("agent.json", Self.minimal)
        let error = try #require(throws: ConfigurationError.self) {
            try AgentConfiguration.load(file: file, settings: ["inference.maxBatsh=4"])
        }
        #expect(error.message.contains("did you mean 'inference.maxBatch'"))
        let remote = try AgentConfiguration.load(file: file, settings: ["http.host=0.0.0.0", "http.allowRemote=true"])
        #expect(remote.http.host == "0.0.0.0")
    }

    @Test("missing required keys, unknown file keys, wrong JSON types and unreadable files")
    func fileErrors() throws {
        let scratch = ScratchDirectory()
        let missing = try #require(throws: ConfigurationError.self) {
            try AgentConfiguration.load(file: scratch.write("a.json", #"{"device": {"id": "pi-7"}}"#))
        }
        #expect(missing.code == .missingKey)
        #expect(missing.key == "dataDirectory")
        #expect(missing.message.contains("STARLING_AGENT_DATA_DIRECTORY"))
        let unknown = try #require(throws: ConfigurationError.self) {
            try AgentConfiguration.load(file: scratch.write("b.json", #"{"devise": {"id": "pi-7"}}"#))
        }
        #expect(unknown.code == .unknownKey)
        #expect(unknown.key == "devise")
        let wrongType = try #require(throws: ConfigurationError.self) {
            try AgentConfiguration.load(file: scratch.write("c.json", Self.minimal.replacingOccurrences(of: "\"dataDirectory\"", with: "\"http\": {\"port\": true}, \"dataDirectory\"")))
        }
        #expect(wrongType.key == "http.port")
        let fractional = try #require(throws: ConfigurationError.self) {
            try AgentConfiguration.load(file: scratch.write("d.json", Self.minimal.replacingOccurrences(of: "\"dataDirectory\"", with: "\"http\": {\"port\": 80.5}, \"dataDirectory\"")))
        }
        #expect(fractional.key == "http.port")
        let notJSON = try #require(throws: ConfigurationError.self) { try AgentConfiguration.load(file: scratch.write("e.json", "port = 80")) }
        #expect(notJSON.code == .malformed)
        let array = try #require(throws: ConfigurationError.self) { try AgentConfiguration.load(file: scratch.write("f.json", "[1]")) }
        #expect(array.code == .malformed)
        let absent = try #require(throws: ConfigurationError.self) { try AgentConfiguration.load(file: scratch.path + "/nope.json") }
        #expect(absent.code == .unreadable)
    }

    @Test("everything can come from the environment alone")
    func environmentOnly() throws {
        let config = try AgentConfiguration.load(
            file: nil,
            environment: [
                "STARLING_AGENT_DEVICE_ID": "gw-1", "STARLING_AGENT_DATA_DIRECTORY": "/data", "STARLING_AGENT_PROFILE_NAME": "x86-64-gateway",
                "STARLING_AGENT_TRUST_RING_FILE": "/trust.json", "STARLING_AGENT_MQTT_ENABLED": "off",
            ])
        #expect(config.deviceID == "gw-1")
        #expect(!config.mqtt.enabled)
        #expect(config.groups.isEmpty)
    }
}
