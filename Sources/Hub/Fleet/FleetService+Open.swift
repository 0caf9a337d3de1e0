import Core
import Foundation
import TransportMQTT

/// Where a hub keeps the broker's files, by default under its data directory.
public struct BrokerFiles: Sendable, Equatable {
    /// The password file (`<data>/broker/passwords`).
    public var passwordFile: String
    /// The ACL file (`<data>/broker/acl`).
    public var aclFile: String
    /// The hub account's MQTT password, created (mode 0600) when missing (`<data>/broker/hub-password`).
    public var hubPasswordFile: String
    /// The hub's MQTT user name.
    public var hubUser: String

    /// The defaults under `dataDirectory`.
    public init(dataDirectory: String) {
        passwordFile = "\(dataDirectory)/broker/passwords"
        aclFile = "\(dataDirectory)/broker/acl"
        hubPasswordFile = "\(dataDirectory)/broker/hub-password"
        hubUser = "hub"
    }
}

extension FleetService {
    /// The fleet service of an opened hub: its database, its signing key's public half as the
    /// trust ring, the broker files in `files`, reloaded by `reload`.
    public static func open(
        hub: HubServices, files: BrokerFiles, reload: BrokerReload, bundleSettings: BundleSettings
    ) throws -> FleetService {
        let key = try SigningKey.read(path: hub.configuration.signingKeyPath)
        var settings = hub.configuration.fleet
        settings.files = files
        settings.reload = reload
        settings.bundle = bundleSettings
        return try make(
            store: SQLiteHubStore(hub.database), settings: settings, hubPassword: try hubPassword(path: files.hubPasswordFile),
            trustRing: [key.publicKey], now: hub.configuration.now)
    }

    /// The fleet service over `store` with the broker files of `settings`.
    static func make(
        store: SQLiteHubStore, settings: FleetSettings, hubPassword: String, trustRing: [TrustedKey],
        now: @escaping @Sendable () -> Int64
    ) throws -> FleetService {
        let files = settings.files
        for path in [files.passwordFile, files.aclFile] {
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty { try FileIO.createDirectory(directory, mode: 0o700) }
        }
        let accounts = BrokerAccounts(
            store: store,
            configuration: .init(
                passwordFile: files.passwordFile, aclFile: files.aclFile,
                hubAccounts: [files.hubUser: MosquittoPasswordFile.hash(hubPassword)], reload: settings.reload))
        return FleetService(store: store, accounts: accounts, trustRing: trustRing, bundleSettings: settings.bundle, now: now)
    }

    /// The hub account's password: read, or generated (32 random bytes) and saved on first use.
    public static func hubPassword(path: String) throws -> String {
        if FileIO.exists(path) {
            return String(decoding: try FileIO.read(path), as: UTF8.self).filter { !$0.isWhitespace }
        }
        let password = generatePassword()
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileIO.createDirectory(directory, mode: 0o700) }
        try FileIO.writeAtomically(Array(password.utf8), to: path, mode: 0o600)
        return password
    }
}
