/// The hub side of chunked transfer: answers `FetchRequest`s from devices with `ChunkFrame`s.
///
/// Requests arrive on `starling/v1/devices/+/fetch` (through `$share/hub/...`, so one replica
/// answers each). A request is checked (topic, JSON, reply topic in the requester's own chunks
/// subtree, known package, chunk indices in range) and either refused, with a counted reason and
/// nothing sent, or queued as frames: the head if asked for, then the chunks in the order asked.
/// Frames go out at QoS 1 to the reply topic from `concurrentPublishes` workers; each publish
/// waits for the transport's in-flight window, so memory stays bounded whatever devices ask.
/// Devices are served in turn, one frame each, so a device fetching a large package does not
/// hold back one fetching a small one. A frame already queued for the same reply topic is not
/// queued twice (a device re-requesting after a reconnect), and a redelivered request (same id
/// from the same device) is ignored.
public actor ChunkServer {
    /// The transport the server subscribes and publishes with.
    public nonisolated let transport: any MessageTransport
    /// The packages it serves.
    public nonisolated let catalog: any PackageCatalog
    /// Its settings.
    public nonisolated let configuration: Configuration

    private var queues: [DeviceID: PendingFrameQueue] = [:]
    private var rotation: [DeviceID] = []
    private var turn = 0
    private var queuedKeys: Set<PendingFrame.Key> = []
    private var idleWorkers: [CheckedContinuation<PendingFrame?, Never>] = []
    private var seenRequests: RecentMessageIDs
    private var counters = Statistics()
    private var refusals: [Refusal] = []
    private var stopped = false
    /// The byte budget of `maxBytesPerSecond`: what may be sent now, refilled with time.
    private var budget: Double = 0
    private var budgetTime: ContinuousClock.Instant?

    /// A server publishing through `transport` what `catalog` holds.
    public init(
        transport: any MessageTransport, catalog: any PackageCatalog, configuration: Configuration = Configuration()
    ) throws(TransferError) {
        try configuration.validate()
        self.transport = transport
        self.catalog = catalog
        self.configuration = configuration
        seenRequests = RecentMessageIDs(capacity: configuration.rememberedRequests)
    }

    /// The counters so far.
    public var statistics: Statistics {
        var snapshot = counters
        snapshot.queued = queuedKeys.count
        return snapshot
    }

    /// The latest refusals, oldest first (at most `recentRefusalLimit`).
    public var recentRefusals: [Refusal] { refusals }

    // MARK: - Running

    /// Subscribes to the fetch topics and serves until the transport's message stream ends or
    /// the task is cancelled. The server then owns `transport.messages` and `transport.events`;
    /// a hub that dispatches one transport to several services calls `serve(_:)` instead.
    ///
    /// It subscribes again after every reconnect that resumed a session: Mosquitto 2.0.11 restores
    /// a persisted shared subscription after a restart but delivers nothing to it until it is
    /// subscribed again (a repeated SUBSCRIBE replaces the subscription; nothing is delivered twice).
    public func run() async throws(TransferError) {
        let filter = configuration.filter
        do {
            try await transport.subscribe(filter, qos: .atLeastOnce)
        } catch {
            throw TransferError(.transport, "cannot subscribe to '\(filter)': \(error.message)", underlying: error)
        }
        let events = transport.events
        let resubscribe = Task { [transport] in
            for await event in events where event == .connected(sessionPresent: true) {
                try? await transport.subscribe(filter, qos: .atLeastOnce)
            }
        }
        defer { resubscribe.cancel() }
        await serve(transport.messages)
    }

    /// Serves the fetch requests in `messages` (other topics are refused as `notAFetchTopic`)
    /// until it ends or the task is cancelled, then finishes the frames being published and
    /// drops the queued ones.
    public func serve(_ messages: AsyncStream<Message>) async {
        stopped = false
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<configuration.concurrentPublishes {
                group.addTask { await self.work() }
            }
            for await message in messages { handle(message) }
            stop()
        }
    }

    private func stop() {
        stopped = true
        for worker in idleWorkers { worker.resume(returning: nil) }
        idleWorkers = []
        queues = [:]
        rotation = []
        queuedKeys = []
    }

    // MARK: - Requests

    /// Checks one fetch request and queues its frames, or refuses it (counted, in `recentRefusals`).
    public func handle(_ message: Message) {
        counters.requests += 1
        guard case .fetch(let device)? = try? Topic(parsing: message.topic) else {
            return refuse(.notAFetchTopic, nil, "'\(IdentifierRules.printable(message.topic))' is not a devices/{id}/fetch topic")
        }
        let request: FetchRequest
        let replyTopic: String
        do {
            request = try MessageCodec.decode(FetchRequest.self, from: message.payload)
        } catch {
            return refuse(.malformedRequest, device, error.message)
        }
        do {
            replyTopic = try request.replyTopic(for: device)
        } catch {
            return refuse(.foreignReplyTopic, device, error.message)
        }
        guard seenRequests.insert("\(device)\u{0}\(request.id)") else {
            counters.duplicateRequests += 1
            return
        }
        guard let source = catalog.source(for: request.packageId) else {
            return refuse(.unknownPackage, device, "package \(request.packageId.prefix(16)) is not served here")
        }
        let count = source.head.chunkCount
        if let bad = request.chunks.first(where: { $0 >= count }) {
            return refuse(
                .chunkOutOfRange, device, "chunk \(bad) is outside 0..<\(count) of package \(request.packageId.prefix(16))")
        }
        let id = request.packageId
        var jobs: [PendingFrame] = []
        if request.head == true { jobs.append(PendingFrame(topic: replyTopic, packageId: id, source: source, index: nil)) }
        jobs += request.chunks.map { PendingFrame(topic: replyTopic, packageId: id, source: source, index: $0) }
        let fresh = jobs.filter { !queuedKeys.contains($0.key) }
        guard (queues[device]?.count ?? 0) + fresh.count <= configuration.maxQueuedPerDevice else {
            return refuse(.queueFull, device, "\(queues[device]?.count ?? 0) frames are already queued for this device")
        }
        counters.accepted += 1
        counters.coalesced += jobs.count - fresh.count
        guard !fresh.isEmpty else { return }
        for job in fresh { queuedKeys.insert(job.key) }
        if queues[device] == nil {
            queues[device] = PendingFrameQueue()
            rotation.append(device)
        }
        queues[device]!.append(fresh)
        while !idleWorkers.isEmpty, let job = nextQueued() {
            idleWorkers.removeFirst().resume(returning: job)
        }
    }

    private func refuse(_ reason: RefusalReason, _ device: DeviceID?, _ detail: String) {
        counters.refused[reason, default: 0] += 1
        guard configuration.recentRefusalLimit > 0 else { return }
        refusals.append(Refusal(reason: reason, device: device, detail: detail))
        if refusals.count > configuration.recentRefusalLimit {
            refusals.removeFirst(refusals.count - configuration.recentRefusalLimit)
        }
    }

    // MARK: - Workers

    /// The next frame, devices in turn.
    private func nextQueued() -> PendingFrame? {
        guard !rotation.isEmpty else { return nil }
        turn %= rotation.count
        let device = rotation[turn]
        let job = queues[device]!.removeFirst()
        queuedKeys.remove(job.key)
        if queues[device]!.isEmpty {
            queues[device] = nil
            rotation.remove(at: turn)
        } else {
            turn += 1
        }
        return job
    }

    private func nextJob() async -> PendingFrame? {
        if stopped { return nil }
        if let job = nextQueued() { return job }
        return await withCheckedContinuation { idleWorkers.append($0) }
    }

    private nonisolated func work() async {
        while let job = await nextJob() {
            await finish(job, await publish(job))
        }
    }

    private enum Outcome { case sent(bytes: Int), readFailed, publishFailed }

    private nonisolated func publish(_ job: PendingFrame) async -> Outcome {
        let head = job.source.head
        let frame: ChunkFrame
        do {
            if let index = job.index {
                frame = try ChunkFrame(
                    kind: .chunk, packageId: job.packageId, index: index, count: head.chunkCount,
                    payload: try await job.source.chunk(index))
            } else {
                frame = try ChunkFrame(
                    kind: .head, packageId: job.packageId, index: 0, count: head.chunkCount, payload: head.encode())
            }
        } catch {
            return .readFailed
        }
        if let wait = await reserve(frame.payload.count) { try? await Task.sleep(for: wait) }
        do {
            let kind = Topic.Kind.chunks
            try await transport.publish(Message(topic: job.topic, payload: frame.encoded(), qos: kind.qos, retain: kind.retained))
        } catch {
            return .publishFailed
        }
        return .sent(bytes: frame.payload.count)
    }

    /// Takes `bytes` from the overall budget; how long to wait before sending them (nil: now).
    /// A frame larger than the budget's burst still goes, after the wait its size implies.
    private func reserve(_ bytes: Int) -> Duration? {
        guard let rate = configuration.maxBytesPerSecond.map(Double.init) else { return nil }
        let now = ContinuousClock.now
        if let last = budgetTime {
            let elapsed = now - last
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            budget = min(rate, budget + seconds * rate)
        } else {
            budget = rate
        }
        budgetTime = now
        budget -= Double(bytes)
        guard budget < 0 else { return nil }
        return .milliseconds(Int64((-budget / rate * 1000).rounded(.up)))
    }

    private func finish(_ job: PendingFrame, _ outcome: Outcome) {
        switch outcome {
        case .sent(let bytes):
            if job.index == nil {
                counters.headsSent += 1
            } else {
                counters.chunksSent += 1
                counters.bytesSent += bytes
                counters.chunksSentByPackage[job.packageId, default: 0] += 1
            }
        case .readFailed:
            counters.readFailures += 1
        case .publishFailed:
            counters.publishFailures += 1
        }
    }
}

extension ChunkServer {
    /// One frame to publish: the head (`index == nil`) or a chunk of a package, to a reply topic.
    struct PendingFrame: Sendable {
        /// What makes two frames the same frame to the same place.
        struct Key: Hashable {
            var topic: String
            var packageId: String
            var index: Int
        }

        let topic: String
        let packageId: String
        let source: any PackageSource
        let index: Int?

        var key: Key { Key(topic: topic, packageId: packageId, index: index ?? -1) }
    }

    /// A FIFO of frames that pops in O(1).
    struct PendingFrameQueue {
        private var items: [PendingFrame] = []
        private var head = 0

        var count: Int { items.count - head }
        var isEmpty: Bool { count == 0 }

        mutating func append(_ frames: [PendingFrame]) { items.append(contentsOf: frames) }

        mutating func removeFirst() -> PendingFrame {
            let frame = items[head]
            head += 1
            if head >= 1024, head * 2 >= items.count {
                items.removeFirst(head)
                head = 0
            }
            return frame
        }
    }
}
