import TransportMQTT

extension FleetSettings {
    /// A `mosquitto.conf` for a broker on this machine that enforces the hub's password and ACL
    /// files: one loopback listener on `port`, no anonymous clients, the fleet's queue limits,
    /// `pidFile` so the hub can send it SIGHUP after enrolments, and `user`: the account the
    /// broker runs as (started as root, Mosquitto otherwise switches to `mosquitto`, which cannot
    /// read the hub's files, mode 0600 in a 0700 directory).
    public func mosquittoConfiguration(port: Int, pidFile: String?, persistenceLocation: String?, user: String?)
        -> MosquittoConfiguration
    {
        MosquittoConfiguration(
            listeners: [.loopback(port: port)], passwordFile: files.passwordFile, aclFile: files.aclFile,
            persistenceLocation: persistenceLocation, user: user, extraLines: pidFile.map { ["pid_file \($0)"] } ?? [])
    }
}
