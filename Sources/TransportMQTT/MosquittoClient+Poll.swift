import CMosquitto
import Core

#if canImport(Glibc)
import Glibc
#endif

/// One turn of the network loop with poll(2): the work of `mosquitto_loop`, which waits in
/// select(2) and so refuses a socket numbered 1024 or more (FD_SETSIZE). A process that holds
/// many files (a simulated fleet of a thousand clients with their stores, a busy hub) gets such
/// numbers, and its clients then closed every connection right after opening it.
///
/// In threaded mode libmosquitto only queues what other threads send and pokes its own socket
/// pair, which only `mosquitto_loop` reads; this loop is poked through `wakeFD` instead (an
/// eventfd written after each request from another thread). libmosquitto's pair is never read
/// here: its writes are non-blocking and stop once its buffer is full, a few hundred pokes in.
extension MosquittoClient {
    /// Makes the eventfd that wakes the loop thread.
    static func makeWakeFD() throws(TransportError) -> Int32 {
        let fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard fd >= 0 else {
            throw TransportError(.protocolError, "cannot create the loop's wake-up eventfd: \(String(cString: strerror(errno)))")
        }
        return fd
    }

    /// Wakes the loop thread so it writes what was just queued (any thread).
    func wakeLoop() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
    }

    /// Waits up to `timeout` milliseconds for the socket or a wake-up, then reads, writes and runs
    /// libmosquitto's housekeeping (keep-alive, retries) as `mosquitto_loop` does. Returns its codes.
    func loopOnce(timeout: Int32) -> Int32 {
        let socket = mosquitto_socket(handle)
        guard socket >= 0 else { return MOSQ_ERR_NO_CONN.rawValue }
        let wantsWrite = mosquitto_want_write(handle)
        var fds = [
            pollfd(fd: socket, events: Int16(POLLIN) | (wantsWrite ? Int16(POLLOUT) : 0), revents: 0),
            pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0),
        ]
        let ready = poll(&fds, 2, timeout)
        if ready < 0 { return errno == EINTR ? MOSQ_ERR_SUCCESS.rawValue : MOSQ_ERR_ERRNO.rawValue }
        if fds[0].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
            let rc = mosquitto_loop_read(handle, 1)
            if rc != MOSQ_ERR_SUCCESS.rawValue || mosquitto_socket(handle) < 0 { return rc }
        }
        var write = fds[0].revents & Int16(POLLOUT) != 0
        if fds[1].revents & Int16(POLLIN) != 0 {
            var count: UInt64 = 0
            _ = Glibc.read(wakeFD, &count, 8)
            // Like mosquitto_loop after its own wake-up: write what another thread just queued.
            write = true
        }
        if write && mosquitto_socket(handle) >= 0 {
            let rc = mosquitto_loop_write(handle, 1)
            if rc != MOSQ_ERR_SUCCESS.rawValue || mosquitto_socket(handle) < 0 { return rc }
        }
        return mosquitto_loop_misc(handle)
    }
}
