import Core

/// Publishes the store's outbox through a `MessageTransport` at QoS 1, transport-agnostic: the
/// same code drains to Mosquitto (`MQTTTransport`) and to the in-memory broker in tests.
///
/// Rows go out oldest first with up to `window` publishes in flight; a row is deleted only after
/// its publish returned (the broker acknowledged it), so a crash or a lost connection at any
/// point leads to a resend of the same bytes under the same message id, never to a loss. Before
/// publishing, unbatched labels are sealed into `FeedbackBatch` messages.
public final class OutboxDrainer: Sendable {
    /// Tuning of the drainer.
    public struct Options: Sendable {
        /// QoS 1 publishes in flight at once.
        public var window: Int
        /// How long `run` waits before trying again after a transport or store failure.
        public var retryDelay: Duration

        /// Options; the defaults are a window of 20 and a 1 s retry delay.
        public init(window: Int = 20, retryDelay: Duration = .seconds(1)) {
            self.window = max(1, window)
            self.retryDelay = retryDelay
        }
    }

    /// What one `drain()` did.
    public struct Report: Sendable, Equatable {
        /// Messages published and acknowledged (and deleted from the outbox).
        public var acknowledged = 0
        /// Feedback batches sealed from unbatched labels.
        public var sealed = 0
        /// Publishes that failed (the rows stay for the next drain).
        public var failed = 0
        /// The first transport failure, if any: the drain stopped starting new publishes there.
        public var failure: TransportError?

        public static func == (a: Report, b: Report) -> Bool {
            a.acknowledged == b.acknowledged && a.sealed == b.sealed && a.failed == b.failed
                && a.failure?.code == b.failure?.code
        }
    }

    /// The store whose outbox is drained.
    public let store: AgentStore
    /// The session to publish through.
    public let transport: any MessageTransport
    /// The device whose feedback topic sealed batches go to.
    public let device: DeviceID
    /// The tuning.
    public let options: Options

    /// A drainer of `store`'s outbox through `transport` for `device`.
    public init(store: AgentStore, transport: any MessageTransport, device: DeviceID, options: Options = Options()) {
        self.store = store
        self.transport = transport
        self.device = device
        self.options = options
    }

    /// Publishes everything pending (including labels attached meanwhile) until the outbox is
    /// empty or a publish fails. While the broker is unreachable, publishes wait for the
    /// transport to reconnect. Throws only store failures; transport failures are in the report.
    public func drain() async throws(StoreError) -> Report {
        var report = Report()
        report.sealed += try await store.sealFeedback(for: device).count
        let transport = self.transport
        let window = options.window
        do {
            try await withThrowingTaskGroup(of: (String, TransportError?).self) { group in
                var queue: [OutboxEntry] = []
                var cursor: Int64 = 0
                var inFlight = 0
                var acknowledged: [String] = []
                var stopping = false
                while true {
                    while !stopping, inFlight < window {
                        if queue.isEmpty {
                            queue = try await nextRows(after: cursor, report: &report)
                            guard let last = queue.last else { break }
                            cursor = last.sequence
                            // Persist the attempt before the effect.
                            try await store.recordAttempts(queue.map(\.id))
                        }
                        let entry = queue.removeFirst()
                        inFlight += 1
                        group.addTask {
                            do {
                                try await transport.publish(entry.message)
                                return (entry.id, nil)
                            } catch let error as TransportError {
                                return (entry.id, error)
                            } catch {
                                return (entry.id, TransportError(.protocolError, "publishing failed: \(error)"))
                            }
                        }
                    }
                    guard let (id, failure) = try await group.next() else { break }
                    inFlight -= 1
                    if let failure {
                        report.failed += 1
                        if report.failure == nil { report.failure = failure }
                        stopping = true
                    } else {
                        acknowledged.append(id)
                        if acknowledged.count >= window {
                            report.acknowledged += try await store.acknowledge(acknowledged)
                            acknowledged = []
                        }
                    }
                }
                report.acknowledged += try await store.acknowledge(acknowledged)
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.databaseFailed, "draining the outbox failed", underlying: error)
        }
        return report
    }

    /// The next rows after `cursor`, sealing more labels when the outbox has run dry.
    private func nextRows(after cursor: Int64, report: inout Report) async throws(StoreError) -> [OutboxEntry] {
        while true {
            let rows = try await store.pendingOutbox(limit: options.window, after: cursor)
            if !rows.isEmpty { return rows }
            let sealed = try await store.sealFeedback(for: device).count
            report.sealed += sealed
            if sealed == 0 { return [] }
        }
    }

    /// Drains whenever the store signals new work, until the task is cancelled. After a failure
    /// it waits `retryDelay` on `clock` and tries again. Cancel the task and close the transport
    /// to stop it while a publish waits for a reconnect.
    public func run<C: Clock>(clock: C) async where C.Duration == Duration {
        while !Task.isCancelled {
            let failed: Bool
            do {
                failed = try await drain().failure != nil
            } catch {
                failed = true
            }
            if failed {
                try? await clock.sleep(for: options.retryDelay)
            } else {
                await store.outboxSignal.wait()
            }
        }
    }

    /// `run(clock:)` on the continuous clock.
    public func run() async {
        await run(clock: ContinuousClock())
    }
}
