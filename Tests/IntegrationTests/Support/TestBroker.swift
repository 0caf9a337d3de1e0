import Core
import Synchronization

@testable import TransportMQTT

#if canImport(Glibc)
import Glibc
#endif

/// A real Mosquitto for one test: its own temporary directory (configuration, password and ACL
/// files, persistence, log, certificates), free loopback ports, and the transports the test
/// made, all closed and removed by `withBroker` whatever the test's outcome.
final class TestBroker: Sendable {
    /// What the broker enforces.
    struct Options: Sendable {
        /// Accept clients without credentials (the scenario tests use arbitrary topics).
        var anonymous = true
        /// Accounts by user name.
        var accounts: [String: String] = [:]
        /// The ACL; nil grants every client everything.
        var acl: MosquittoACL? = nil
        /// Also open a TLS listener.
        var tls = false
        /// The TLS listener requires client certificates.
        var requireClientCertificate = false
        /// Changes to the generated configuration (limits).
        var tune: @Sendable (inout MosquittoConfiguration) -> Void = { _ in }
    }

    let options: Options
    let directory: String
    /// The plain loopback listener.
    let port: Int
    /// The TLS listener, if any.
    let tlsPort: Int?
    let certificates: TestCertificates?
    private let process = Mutex<MosquittoProcess?>(nil)
    private let transports = Mutex<[MQTTTransport]>([])

    /// Writes the files and starts the broker.
    init(_ options: Options) throws {
        self.options = options
        directory = try makeTemporaryDirectory("starling-mosquitto")
        do {
            port = try MosquittoProcess.freePort()
            tlsPort = options.tls ? try MosquittoProcess.freePort() : nil
            certificates = options.tls ? try TestCertificates(in: directory) : nil
            try writeFiles(passwords: options.accounts, acl: options.acl)
            try start()
        } catch {
            removeTree(directory)
            throw error
        }
    }

    var passwordFile: String { "\(directory)/passwords" }
    var aclFile: String { "\(directory)/acl" }
    var logFile: String { "\(directory)/mosquitto.log" }

    /// The broker configuration this test runs.
    func configuration() -> MosquittoConfiguration {
        var listeners = [MosquittoConfiguration.Listener.loopback(port: port)]
        if let tlsPort, let certificates {
            listeners.append(
                .init(
                    port: tlsPort, bindAddress: "127.0.0.1",
                    tls: .init(
                        caFile: certificates.caFile, certificateFile: certificates.serverCertificate,
                        keyFile: certificates.serverKey, requireClientCertificate: options.requireClientCertificate)))
        }
        var config = MosquittoConfiguration(
            listeners: listeners, passwordFile: options.accounts.isEmpty ? nil : passwordFile,
            aclFile: options.acl == nil ? nil : aclFile, allowAnonymous: options.anonymous,
            persistenceLocation: "\(directory)/data", logDestinations: ["stderr"],
            user: String(cString: getpwuid(geteuid()).pointee.pw_name))
        options.tune(&config)
        return config
    }

    /// (Re)writes the password and ACL files (then `reload()` to apply them to a running broker).
    func writeFiles(passwords: [String: String], acl: MosquittoACL?) throws {
        mkdir("\(directory)/data", 0o700)
        var file = MosquittoPasswordFile()
        for (user, password) in passwords { try file.setPassword(password, for: user) }
        try file.write(to: passwordFile)
        try acl?.write(to: aclFile)
        try configuration().write(to: "\(directory)/mosquitto.conf")
    }

    /// Starts the broker (again) on the same ports, with the same persistence directory.
    func start() throws {
        let started = try MosquittoProcess.start(configFile: "\(directory)/mosquitto.conf", port: port, logFile: logFile)
        process.withLock { $0 = started }
    }

    /// Stops the broker with SIGTERM (it saves its state).
    func stop() {
        process.withLock { $0 }?.stop()
    }

    /// Kills the broker with SIGKILL (nothing saved).
    func kill() {
        process.withLock { $0 }?.kill()
    }

    /// Stops and starts the broker; persisted sessions and queues survive.
    func restart() throws {
        stop()
        try start()
    }

    /// SIGHUP: Mosquitto re-reads the password and ACL files.
    func reload() {
        process.withLock { $0 }?.reload()
    }

    /// The running broker's process id.
    var pid: Int32? { process.withLock { $0 }?.pid }

    /// The broker's recent log lines, for failure messages.
    var log: String { process.withLock { $0 }?.logTail() ?? "" }

    // MARK: - Clients

    /// A client configuration for this broker with fast reconnects; `tls` picks the TLS listener.
    func clientConfiguration(
        _ clientID: String, username: String? = nil, password: String? = nil, tls: Bool = false
    ) -> MQTTTransport.Configuration {
        var config = MQTTTransport.Configuration(
            host: "127.0.0.1", port: port, clientID: clientID, username: username, password: password,
            keepAlive: .seconds(10), reconnect: ReconnectBackoff(minimum: .milliseconds(50), maximum: .milliseconds(500)))
        if tls, let tlsPort, let certificates {
            config.port = tlsPort
            config.tls = .init(caFile: certificates.caFile)
        }
        return config
    }

    /// A transport the broker closes at the end of the test.
    func transport(_ configuration: MQTTTransport.Configuration) throws -> MQTTTransport {
        let transport = try MQTTTransport(configuration: configuration)
        transports.withLock { $0.append(transport) }
        return transport
    }

    /// The transports made so far for `clientID`.
    func transports(for clientID: String) -> [MQTTTransport] {
        transports.withLock { $0.filter { $0.clientID == clientID } }
    }

    /// Closes every transport, stops the broker and removes the directory.
    func shutdown() async {
        for transport in transports.withLock({ $0 }) { await transport.close() }
        transports.withLock { $0 = [] }
        stop()

        removeTree(directory)
    }

    /// The scenario harness on this broker.
    func harness() -> TransportHarness {
        TransportHarness(
            makeTransport: { [self] client in
                var config = clientConfiguration(client.id)
                config.cleanStart = client.cleanStart
                config.sessionExpiry = client.cleanStart ? .zero : .seconds(3600)
                config.will = client.will
                return try transport(config)
            },
            dropConnection: { [self] id in
                for transport in transports(for: id) { transport.client.simulateConnectionLoss() }
            },
            settle: { try? await Task.sleep(for: .milliseconds(5)) },
            patience: 3000)
    }
}

/// Runs `body` with a fresh broker, then closes its transports, stops it and deletes its files,
/// also when `body` throws.
func withBroker<T>(_ options: TestBroker.Options = .init(), _ body: (TestBroker) async throws -> T) async throws -> T {
    let broker = try TestBroker(options)
    do {
        let result = try await body(broker)
        await broker.shutdown()
        return result
    } catch {
        let log = broker.log
        await broker.shutdown()
        throw BrokerTestFailure(underlying: error, log: log)
    }
}

/// A test failure with the broker's log attached.
struct BrokerTestFailure: Error, CustomStringConvertible {
    var underlying: any Error
    var log: String
    var description: String { "\(underlying)\n--- mosquitto log ---\n\(log)" }
}
