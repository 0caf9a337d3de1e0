import Core
import TransportMQTT

#if canImport(Glibc)
    import Glibc
#endif

/// Keeps the broker's password and ACL files in step with the fleet registry, and makes
/// Mosquitto reload them.
///
/// The database is the source of truth: each device row holds the `$7$` hash of its password, so
/// `sync()` renders both files from scratch (enrolled devices plus the hub accounts), writes them
/// atomically, then sends the broker SIGHUP. A decommissioned device is simply absent from the
/// next rendering. Syncs run one at a time, each reading the latest rows, so the last file
/// written is never older than the last change.
public actor BrokerAccounts {
    /// Where the files go and how the broker is told.
    public struct Configuration: Sendable {
        /// The password file Mosquitto's `password_file` points at.
        public var passwordFile: String
        /// The ACL file Mosquitto's `acl_file` points at.
        public var aclFile: String
        /// Hub accounts (user name → `$7$` hash), full access to `starling/v1/#`.
        public var hubAccounts: [String: String]
        /// How to make the broker re-read the files.
        public var reload: BrokerReload

        /// A configuration.
        public init(passwordFile: String, aclFile: String, hubAccounts: [String: String], reload: BrokerReload) {
            self.passwordFile = passwordFile
            self.aclFile = aclFile
            self.hubAccounts = hubAccounts
            self.reload = reload
        }
    }

    /// The settings.
    public let configuration: Configuration
    private let store: any FleetStore
    private var last: Task<Void, any Error>?

    /// Accounts for the devices in `store`.
    public init(store: any FleetStore, configuration: Configuration) {
        self.store = store
        self.configuration = configuration
    }

    /// Renders and writes both files from the store, then reloads the broker.
    public func sync() async throws {
        let previous = last
        let task = Task { [store, configuration] in
            _ = await previous?.result
            let credentials = try await store.credentials()
            let groups = try await store.groups()
            let files = try Self.render(
                credentials: credentials, groups: groups, hubAccounts: configuration.hubAccounts)
            do {
                try files.passwords.write(to: configuration.passwordFile)
                try files.acl.write(to: configuration.aclFile)
            } catch {
                throw FleetError(.brokerFilesFailed, "cannot write the broker's password or ACL file", underlying: error)
            }
            try configuration.reload.perform()
        }
        last = task
        try await task.value
    }

    // MARK: - Rendering

    /// The password file and ACL for `credentials` (enrolled devices), `groups` (group
    /// membership by selector) and the hub accounts. Pure: no files, no broker.
    public static func render(
        credentials: [(device: Device, credential: DeviceCredential)], groups: [DeviceGroup], hubAccounts: [String: String]
    ) throws(FleetError) -> (passwords: MosquittoPasswordFile, acl: MosquittoACL) {
        var lines: [String] = []
        for (user, hash) in hubAccounts.sorted(by: { $0.key < $1.key }) { lines.append("\(user):\(hash)") }
        for entry in credentials {
            guard hubAccounts[entry.credential.device] == nil else {
                throw FleetError(.invalidArgument, "device '\(entry.credential.device)' has the name of a hub account")
            }
            lines.append("\(entry.credential.device):\(entry.credential.passwordHash)")
        }
        for line in lines where line.contains("\n") || line.contains("\r") {
            throw FleetError(.invalidArgument, "a broker account contains a line break: '\(line.prefix(while: { $0 != ":" }))'")
        }
        let passwords: MosquittoPasswordFile
        do {
            passwords = try MosquittoPasswordFile(parsing: lines.joined(separator: "\n") + "\n")
        } catch {
            throw FleetError(.invalidArgument, "a broker account cannot go into the password file", underlying: error)
        }
        let membership = try Self.membership(devices: credentials.map(\.device), groups: groups)
        let acl = MosquittoACL(hubUsers: hubAccounts.keys.sorted(), groups: membership)
        do {
            _ = try acl.render()
        } catch {
            throw FleetError(.invalidArgument, "a name cannot go into the broker's ACL", underlying: error)
        }
        return (passwords, acl)
    }

    /// The groups each device belongs to (device id → group names), by the groups' selectors.
    public static func membership(devices: [Device], groups: [DeviceGroup]) throws(FleetError) -> [String: [String]] {
        var selectors: [(String, LabelSelector)] = []
        for group in groups { selectors.append((group.name, try LabelSelector(parsing: group.selector))) }
        var out: [String: [String]] = [:]
        for device in devices where device.state == .enrolled {
            let names = selectors.filter { $0.1.matches(device.labels) }.map(\.0)
            if !names.isEmpty { out[device.id] = names }
        }
        return out
    }
}

/// How the hub makes Mosquitto re-read its password and ACL files.
public enum BrokerReload: Sendable {
    /// Do nothing (files only; someone else reloads, or the broker is not running yet).
    case none
    /// SIGHUP to this process id.
    case signal(pid: Int32)
    /// SIGHUP to the process id written in this file (Mosquitto's `pid_file`, systemd's PIDFile).
    case pidFile(String)
    /// Anything else (`systemctl reload mosquitto`, a test broker).
    case custom(@Sendable () throws -> Void)

    /// Performs the reload.
    public func perform() throws(FleetError) {
        switch self {
        case .none:
            return
        case .signal(let pid):
            try Self.hangUp(pid)
        case .pidFile(let path):
            let bytes: [UInt8]
            do {
                bytes = try FileIO.read(path)
            } catch {
                throw FleetError(.brokerReloadFailed, "cannot read the broker's pid file '\(path)'", underlying: error)
            }
            let text = String(decoding: bytes, as: UTF8.self).filter { !$0.isWhitespace }
            guard let pid = Int32(text), pid > 1 else {
                throw FleetError(.brokerReloadFailed, "the pid file '\(path)' does not hold a process id")
            }
            try Self.hangUp(pid)
        case .custom(let body):
            do {
                try body()
            } catch {
                throw FleetError(.brokerReloadFailed, "reloading the broker failed", underlying: error)
            }
        }
    }

    private static func hangUp(_ pid: Int32) throws(FleetError) {
        guard pid > 1 else { throw FleetError(.brokerReloadFailed, "\(pid) is not a broker process id") }
        guard kill(pid, SIGHUP) == 0 else {
            throw FleetError(
                .brokerReloadFailed, "cannot send SIGHUP to the broker (pid \(pid)): \(String(cString: strerror(errno)))")
        }
    }
}
