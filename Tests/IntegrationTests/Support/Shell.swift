import Core

#if canImport(Glibc)
import Glibc
#endif

/// A command failed; the message has its output.
struct CommandError: Error, CustomStringConvertible {
    var description: String
}

/// Runs `arguments` (the first is looked up in PATH), waits, and returns its standard output;
/// throws with the output if it exits non-zero. Uses posix_spawn and waits for its own pid only.
@discardableResult
func runCommand(_ arguments: [String]) throws -> String {
    let output = "/tmp/starling-cmd-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).out"
    defer { unlink(output) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let rc = posix_spawnp(&pid, arguments[0], &actions, nil, &argv, environ)
    guard rc == 0 else { throw CommandError(description: "cannot run \(arguments[0]): \(String(cString: strerror(rc)))") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let text = readText(output) ?? ""
    // WIFEXITED and WEXITSTATUS, spelled out (the macros are not imported).
    guard status & 0x7F == 0, (status >> 8) & 0xFF == 0 else {
        throw CommandError(description: "\(arguments.joined(separator: " ")) failed (status \(status)):\n\(text)")
    }
    return text
}

/// The contents of a text file, or nil.
func readText(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = fread(&buffer, 1, buffer.count, file)
        if n <= 0 { break }
        bytes.append(contentsOf: buffer[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Writes `text` to `path` (mode 0600).
func writeText(_ text: String, to path: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { throw CommandError(description: "cannot write \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    var written = 0
    while written < bytes.count {
        let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { throw CommandError(description: "cannot write \(path)") }
        written += n
    }
}

/// A fresh temporary directory.
func makeTemporaryDirectory(_ prefix: String) throws -> String {
    var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
    guard let pointer = mkdtemp(&template) else { throw CommandError(description: "mkdtemp failed") }
    return String(cString: pointer)
}

/// Removes a directory tree.
func removeTree(_ path: String) {
    _ = try? runCommand(["rm", "-rf", path])
}

/// Threads of this process right now.
func threadCount() -> Int {
    countEntries("/proc/self/task")
}

/// Open file descriptors of this process right now.
func openFileCount() -> Int {
    countEntries("/proc/self/fd")
}

private func countEntries(_ path: String) -> Int {
    guard let directory = opendir(path) else { return -1 }
    defer { closedir(directory) }
    var count = 0
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." { count += 1 }
    }
    return count
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
func eventually(timeout: Duration = .seconds(15), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}

/// The code of the `TransportError` `body` throws, or nil if it succeeds.
func errorCode(_ body: () async throws(TransportError) -> Void) async -> TransportError.Code? {
    do {
        try await body()
        return nil
    } catch {
        return error.code
    }
}
