import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// Foundation's `availableData` and `readDataToEndOfFile` end the process with a fatal error when
// a read is interrupted by a signal (EINTR), which happens when another thread's child process
// exits; tests that start many processes read pipes with these instead.
extension FileHandle {
    /// The next bytes available (empty at the end of the file), retrying interrupted reads.
    func chunkRetryingInterrupts() -> Data {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = Glibc.read(fileDescriptor, &buffer, buffer.count)
            if count >= 0 { return Data(buffer[0..<count]) }
            if errno != EINTR { return Data() }
        }
    }

    /// Everything until the end of the file, retrying interrupted reads.
    func readAllRetryingInterrupts() -> Data {
        var all = Data()
        while true {
            let chunk = chunkRetryingInterrupts()
            if chunk.isEmpty { return all }
            all.append(chunk)
        }
    }
}
