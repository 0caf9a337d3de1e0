import Core
import Foundation

extension AgentRuntime {
    /// The federated client of a runtime: the device key from `device.keyFile` (when missing or
    /// unreadable every task is declined), installed models read back from their verified
    /// packages as float models, counters in the serving metrics' registry, and "idle" meaning
    /// no inference request in flight.
    static func makeFederatedService(
        configuration: AgentConfiguration, profile: FirmwareProfile, device: DeviceID, store: AgentStore,
        registry: ModelRegistry, installer: ModelInstaller, service: InferenceService, log: @escaping @Sendable (String) -> Void
    ) -> FederatedService {
        var key: SigningKey?
        if let path = configuration.deviceKeyFile {
            do {
                key = try SigningKey.read(path: path)
            } catch {
                log("federated: cannot read device.keyFile; federated tasks will be declined: \(error.message)")
            }
        }
        if configuration.federated.enabled, configuration.inputPrivacy != .full, configuration.federated.localDataFile == nil {
            log("federated: privacy.inputs is not full and there is no federated.localDataFile: tasks will find no examples")
        }
        return FederatedService(
            device: device, store: store, registry: registry, configuration: configuration.federated,
            policy: profile.training, key: key, directory: configuration.dataDirectory,
            loadModel: { name, version in
                let installed = try await store.installedModels(name: name).first { $0.version == version && $0.state != .failed }
                guard let installed else {
                    throw FederatedAgentError(.model, "model '\(name)' \(version) has no installed package")
                }
                return try await installer.verify(path: installed.path, store: store).model
            },
            metrics: FederatedMetrics(registry: service.metrics.registry),
            conditions: FederatedService.Conditions(
                idle: { [service] in service.requestsInFlight == 0 }, onMainsPower: { PowerSupply.onMainsPower() }),
            log: log)
    }
}

/// The device's power source, from Linux's `/sys/class/power_supply`.
enum PowerSupply {
    /// False only when a battery reports that it is discharging; true without battery information.
    static func onMainsPower(root: String = "/sys/class/power_supply") -> Bool {
        guard let supplies = try? FileManager.default.contentsOfDirectory(atPath: root) else { return true }
        for supply in supplies {
            let type = (try? String(contentsOfFile: "\(root)/\(supply)/type", encoding: .utf8)) ?? ""
            let status = (try? String(contentsOfFile: "\(root)/\(supply)/status", encoding: .utf8)) ?? ""
            if type.hasPrefix("Battery") && status.hasPrefix("Discharging") { return false }
        }
        return true
    }
}
