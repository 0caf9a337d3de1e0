import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A `mosquitto` broker process started with a generated configuration: for integration tests,
/// benchmarks and demos (production runs Mosquitto under its service manager). Stopped by pid,
/// never by name.
public final class MosquittoProcess: Sendable {
    /// The broker's process id.
    public let pid: pid_t
    /// The port tests and clients connect to (on 127.0.0.1).
    public let port: Int
    /// The configuration file it runs with.
    public let configFile: String
    /// Where its standard output and error go.
    public let logFile: String
    private let exitStatus = Mutex<Int32?>(nil)

    private init(pid: pid_t, port: Int, configFile: String, logFile: String) {
        self.pid = pid
        self.port = port
        self.configFile = configFile
        self.logFile = logFile
    }

    deinit {
        if isRunning { kill() }
    }

    /// Starts `mosquitto -c configFile` and waits until 127.0.0.1:`port` accepts connections.
    public static func start(
        configFile: String, port: Int, logFile: String, executable: String? = nil, readyTimeout: Duration = .seconds(10)
    ) throws(MosquittoError) -> MosquittoProcess {
        guard let path = executable ?? findExecutable() else {
            throw MosquittoError(.notFound, "mosquitto not found in PATH, /usr/sbin or /usr/local/sbin; install the mosquitto package")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logFile, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // The child inherits the spawning thread's signal mask and ignored signals: a test runner
        // or thread pool that blocks SIGTERM would make the broker deaf to `stop()`.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGHUP, SIGINT, SIGPIPE, SIGUSR1, SIGUSR2] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let arguments = [path, "-c", configFile]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attributes, &argv, environ)
        guard rc == 0 else {
            throw MosquittoError(.startFailed, "cannot start \(path): \(String(cString: strerror(rc)))")
        }
        let process = MosquittoProcess(pid: pid, port: port, configFile: configFile, logFile: logFile)
        let deadline = ContinuousClock.now + readyTimeout
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                throw MosquittoError(.startFailed, "mosquitto exited at start-up; its log (\(logFile)):\n\(process.logTail())")
            }
            if canConnect(port: port) { return process }
            usleep(20_000)
        }
        process.kill()
        throw MosquittoError(.startFailed, "mosquitto did not accept connections on port \(port) in time; its log:\n\(process.logTail())")
    }

    /// Whether the process has not exited yet (reaps it if it has).
    public var isRunning: Bool {
        exitStatus.withLock { status in
            if status != nil { return false }
            var raw: Int32 = 0
            let result = waitpid(pid, &raw, WNOHANG)
            if result == pid || (result < 0 && errno == ECHILD) {
                status = raw
                return false
            }
            return true
        }
    }

    /// Sends SIGTERM (Mosquitto saves its persistence file and exits) and waits; SIGKILL after
    /// `timeout`.
    public func stop(timeout: Duration = .seconds(10)) {
        guard isRunning else { return }
        _ = Glibc.kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + timeout
        while isRunning {
            if ContinuousClock.now >= deadline {
                kill()
                return
            }
            usleep(10_000)
        }
    }

    /// Sends SIGKILL, as a crash would (nothing is saved), and reaps the process.
    public func kill() {
        guard isRunning else { return }
        _ = Glibc.kill(pid, SIGKILL)
        while isRunning { usleep(5_000) }
    }

    /// Sends SIGHUP: Mosquitto re-reads its password and ACL files.
    public func reload() {
        if isRunning { _ = Glibc.kill(pid, SIGHUP) }
    }

    /// The last lines of the broker's log.
    public func logTail(lines: Int = 40) -> String {
        guard let file = fopen(logFile, "r") else { return "(no log)" }
        defer { fclose(file) }
        var text: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n <= 0 { break }
            text.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: text, as: UTF8.self).split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    // MARK: - Ports

    /// A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it).
    public static func freePort() throws(MosquittoError) -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw MosquittoError(.io, "cannot open a socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(fd, address, length) == 0 && getsockname(fd, address, &length) == 0
            }
        }
        guard bound else { throw MosquittoError(.io, "cannot bind a free port: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    public static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }

    private static func findExecutable() -> String? {
        let path = getenv("PATH").map { String(cString: $0) } ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/local/sbin"]
        return directories.map { "\($0)/mosquitto" }.first { access($0, X_OK) == 0 }
    }
}
