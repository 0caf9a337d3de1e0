import Core
import Foundation

/// A device's enrolment bundle as the hub writes it (`DIR/<id>/agent.json`, `mqtt-password`,
/// `trust.json`), read to simulate enrolled devices with their own broker accounts.
public struct DeviceBundle: Sendable, Equatable {
    /// The device and its credentials.
    public var device: SimulatedDevice
    /// The broker in the bundle.
    public var host: String
    /// Its port.
    public var port: Int
    /// The CA file the bundle names (a path on the device), if TLS.
    public var caFile: String?
    /// The firmware profile the bundle names.
    public var profile: String
    /// The bundle's trust ring file.
    public var trustFile: String

    private struct AgentFile: Decodable {
        struct Device: Decodable { var id: String }
        struct Profile: Decodable { var name: String }
        struct TLS: Decodable { var caFile: String }
        struct MQTT: Decodable {
            var host: String
            var port: Int
            var username: String
            var tls: TLS?
        }
        var device: Device
        var profile: Profile
        var mqtt: MQTT
    }

    /// The bundles in the subdirectories of `directory` that hold an `agent.json`, sorted by
    /// directory name; at most `limit`.
    public static func read(directory: String, limit: Int? = nil) throws(SimulationError) -> [DeviceBundle] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        } catch {
            throw SimulationError(.bundleFailed, "--bundles: cannot list '\(directory)'", underlying: error)
        }
        var bundles: [DeviceBundle] = []
        for name in names where FileIO.exists("\(directory)/\(name)/agent.json") {
            if let limit, bundles.count >= limit { break }
            bundles.append(try read(folder: "\(directory)/\(name)", index: bundles.count))
        }
        guard !bundles.isEmpty else {
            throw SimulationError(.bundleFailed, "--bundles: no '<id>/agent.json' under '\(directory)'")
        }
        return bundles
    }

    /// The bundle in `folder`; the device gets fleet number `index`.
    public static func read(folder: String, index: Int) throws(SimulationError) -> DeviceBundle {
        let file: AgentFile
        let password: String
        do {
            file = try JSONDecoder().decode(AgentFile.self, from: Data(try FileIO.read("\(folder)/agent.json")))
            let bytes = try FileIO.read("\(folder)/mqtt-password")
            password = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .newlines)
        } catch {
            throw SimulationError(.bundleFailed, "--bundles: cannot read the bundle in '\(folder)'", underlying: error)
        }
        guard let id = try? DeviceID(file.device.id) else {
            throw SimulationError(.bundleFailed, "--bundles: '\(folder)/agent.json' has an invalid device id '\(file.device.id)'")
        }
        return DeviceBundle(
            device: SimulatedDevice(id: id, index: index, username: file.mqtt.username, password: password),
            host: file.mqtt.host, port: file.mqtt.port, caFile: file.mqtt.tls?.caFile, profile: file.profile.name,
            trustFile: "\(folder)/trust.json")
    }
}
