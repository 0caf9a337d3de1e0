import TransportMQTT

extension FleetSettings {
    /// A `mosquitto.conf` for a broker on this machine that enforces the hub's password and ACL
    /// files: one loopback listener on `port`, no anonymous clients, the fleet's queue limits,
    /// and `pidFile` so the hub can send it SIGHUP after enrolments.
    public func mosquittoConfiguration(port: Int, pidFile: String?, persistenceLocation: String?) -> MosquittoConfiguration {
        MosquittoConfiguration(
            listeners: [.loopback(port: port)], passwordFile: files.passwordFile, aclFile: files.aclFile,
            persistenceLocation: persistenceLocation, extraLines: pidFile.map { ["pid_file \($0)"] } ?? [])
    }
}
