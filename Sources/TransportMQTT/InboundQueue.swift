import Core
import Foundation

/// Received messages between the network thread (the producer) and the one consumer of
/// `MQTTTransport.messages`, with the pause-then-grow policy of `InboundBufferPolicy`.
///
/// `@unchecked Sendable`: every stored property is read and written only while `condition` (a
/// lock with a condition variable) is held.
final class InboundQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private let policy: InboundBufferPolicy
    private var buffer: [Message] = []
    private var head = 0
    private var bytes = 0
    private var consumer: CheckedContinuation<Message?, Never>?
    private var finished = false
    private var abandoned = false
    private var overflowing = false
    private var stalls = 0
    private var peak = 0

    /// A queue with `policy`.
    init(policy: InboundBufferPolicy) {
        self.policy = policy
    }

    /// The consumer's view: an `AsyncStream` that pulls from this queue.
    func makeStream() -> AsyncStream<Message> {
        AsyncStream(unfolding: { [self] in await next() }, onCancel: { [self] in abandon() })
    }

    /// Messages waiting for the consumer.
    var count: Int { locked { buffer.count - head } }
    /// Times the network thread paused for a slow consumer.
    var stallCount: Int { locked { stalls } }
    /// Most messages ever buffered at once.
    var peakCount: Int { locked { peak } }

    /// Hands `message` to the consumer or buffers it; on the network thread, blocks while the
    /// buffer is over its limit (see `InboundBufferPolicy`). Dropped only after `finish()` or
    /// once the consumer has cancelled its iteration: nobody can read it then.
    func push(_ message: Message) {
        condition.lock()
        defer { condition.unlock() }
        if finished || abandoned { return }
        if let consumer {
            self.consumer = nil
            consumer.resume(returning: message)
            return
        }
        buffer.append(message)
        bytes += message.payload.count
        peak = max(peak, buffer.count - head)
        guard isFull, !overflowing else { return }
        stalls += 1
        let deadline = Date(timeIntervalSinceNow: Double(policy.maxStall.components.seconds)
            + Double(policy.maxStall.components.attoseconds) * 1e-18)
        while isFull && !finished && !abandoned {
            if !condition.wait(until: deadline) {
                overflowing = true
                return
            }
        }
    }

    /// Ends the stream once the buffered messages are read; wakes a paused network thread.
    func finish() {
        condition.lock()
        finished = true
        let consumer = self.consumer
        self.consumer = nil
        condition.broadcast()
        condition.unlock()
        consumer?.resume(returning: nil)
    }

    private func next() async -> Message? {
        await withCheckedContinuation { continuation in
            condition.lock()
            defer { condition.unlock() }
            if head < buffer.count {
                continuation.resume(returning: pop())
            } else if finished || abandoned {
                continuation.resume(returning: nil)
            } else {
                consumer = continuation
            }
        }
    }

    private func abandon() {
        condition.lock()
        abandoned = true
        buffer = []
        head = 0
        bytes = 0
        let consumer = self.consumer
        self.consumer = nil
        condition.broadcast()
        condition.unlock()
        consumer?.resume(returning: nil)
    }

    private var isFull: Bool { buffer.count - head >= policy.messages || bytes >= policy.bytes }

    /// Takes the oldest message; the lock is held.
    private func pop() -> Message {
        let message = buffer[head]
        head += 1
        bytes -= message.payload.count
        if head == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.count < 4096)
            head = 0
        } else if head >= 4096 && head * 2 >= buffer.count {
            buffer.removeFirst(head)
            head = 0
        }
        let remaining = buffer.count - head
        if overflowing && remaining <= policy.messages / 2 && bytes <= policy.bytes / 2 { overflowing = false }
        // A paused network thread resumes once half the buffer is free, not at the first free
        // slot: otherwise a consumer that is the bottleneck wakes it for every single message.
        if remaining <= policy.messages / 2 && bytes <= policy.bytes / 2 { condition.broadcast() }
        return message
    }

    private func locked<T>(_ body: () -> T) -> T {
        condition.lock()
        defer { condition.unlock() }
        return body()
    }
}
