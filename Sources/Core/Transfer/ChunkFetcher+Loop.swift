extension ChunkFetcher {
    /// The run loop: one task owns all transfer state; a sender task publishes requests and a
    /// ticker task wakes the loop to check timeouts.
    func drive() async throws(TransferError) -> ModelPackage {
        let (outbox, outboxSink) = AsyncStream.makeStream(of: FetchRequest.self)
        var loop = FetchLoop(fetcher: self, outbox: outboxSink)
        if let package = try loop.open() { return package }
        do {
            try await transport.subscribe(replyTopic, qos: .atLeastOnce)
        } catch {
            throw TransferError(.transport, "cannot subscribe to '\(replyTopic)': \(error.message)", underlying: error)
        }
        let fetchTopic = Topic.fetch(device)
        let sender = Task { [transport, inputSink] in
            for await request in outbox {
                do {
                    try await transport.publish(try fetchTopic.message(request))
                } catch let error as TransportError {
                    inputSink.yield(.sendFailed(error))
                } catch {
                    inputSink.yield(.sendFailed(TransportError(.protocolError, "cannot encode a fetch request: \(error)")))
                }
            }
        }
        let tick = max(configuration.timeout / 4, .milliseconds(1))
        let ticker = Task { [inputSink, clock] in
            while !Task.isCancelled {
                do { try await clock.sleep(tick) } catch { return }
                inputSink.yield(.tick)
            }
        }
        defer {
            outboxSink.finish()
            sender.cancel()
            ticker.cancel()
        }
        var iterator = inputs.makeAsyncIterator()
        let result: Result<ModelPackage, TransferError>
        do throws(TransferError) {
            while true {
                loop.sendRequests()
                guard let input = await iterator.next() else {
                    throw Task.isCancelled
                        ? TransferError(.cancelled, "the transfer of package \(packageId.prefix(16)) was cancelled")
                        : TransferError(
                            .inputEnded, "the message stream ended before package \(packageId.prefix(16)) was complete")
                }
                if let package = try loop.handle(input) {
                    result = .success(package)
                    break
                }
            }
        } catch {
            result = .failure(error)
        }
        try? await transport.unsubscribe(replyTopic)
        return try result.get()
    }
}

/// The state of one run: the store, the schedule and the connection, changed only by the loop.
struct FetchLoop {
    let fetcher: ChunkFetcher
    let outbox: AsyncStream<FetchRequest>.Continuation
    var schedule: FetchSchedule
    var store: ChunkStore?
    var connected = true
    var requestCount = 0

    init(fetcher: ChunkFetcher, outbox: AsyncStream<FetchRequest>.Continuation) {
        self.fetcher = fetcher
        self.outbox = outbox
        let c = fetcher.configuration
        schedule = FetchSchedule(window: c.window, timeout: c.timeout, maxTimeouts: c.maxTimeouts, maxRejections: c.maxRejections)
    }

    var name: String { "package \(fetcher.packageId.prefix(16))" }

    // MARK: - Start

    /// Opens the store from the directory (a resumed transfer) or the known head; returns the
    /// package if the directory already held all of it.
    mutating func open() throws(TransferError) -> ModelPackage? {
        let directory = fetcher.directory
        let c = fetcher.configuration
        if FileIO.exists(directory + "/head") {
            do {
                try adopt(try ChunkStore.resume(directory: directory, verifier: fetcher.verifier, syncEachChunk: c.syncEachChunk))
            } catch let error as TransferError {
                throw error
            } catch let error as ArtifactError {
                throw TransferError(
                    .storage,
                    "the head kept in '\(directory)' cannot be used (\(error.message)); remove the directory to start over",
                    underlying: error)
            } catch {
                throw TransferError(.storage, "cannot resume from '\(directory)': \(error)")
            }
            fetcher.update { $0.chunksResumed = store?.received.count ?? 0 }
            return try finishIfComplete()
        }
        if let bytes = fetcher.knownHead {
            let head: PackageHead
            do {
                head = try fetcher.verifier.verifyHead(bytes)
            } catch {
                throw TransferError(
                    .headRefused, "the head given for \(name) failed verification: \(error.message)", underlying: error)
            }
            try adopt(try makeStore(head))
            return try finishIfComplete()
        }
        schedule.want([.head])
        return nil
    }

    func makeStore(_ head: PackageHead) throws(TransferError) -> ChunkStore {
        do {
            return try ChunkStore(directory: fetcher.directory, head: head, syncEachChunk: fetcher.configuration.syncEachChunk)
        } catch {
            throw TransferError(
                error.code == .chunkFromOtherPackage ? .wrongPackage : .storage,
                "cannot keep chunks in '\(fetcher.directory)': \(error.message)", underlying: error)
        }
    }

    /// Takes `opened` as the store: it must be for our package; its missing chunks are wanted.
    mutating func adopt(_ opened: ChunkStore) throws(TransferError) {
        guard opened.head.id == fetcher.packageId else {
            throw TransferError(
                .wrongPackage,
                "'\(fetcher.directory)' holds package \(opened.head.id.prefix(16)), not \(fetcher.packageId.prefix(16)); use one directory per package"
            )
        }
        store = opened
        let head = opened.head
        fetcher.update {
            $0.chunkCount = head.chunkCount
            $0.totalBytes = head.manifest.payload.size
            $0.chunksReceived = opened.received.count
            $0.bytesReceived = opened.receivedBytes
            $0.chunksDiscarded += opened.discarded.count
        }
        schedule.want(opened.missing.map { .chunk($0) })
    }

    // MARK: - Requests

    /// Publishes (through the sender task) a request for what the window has room for.
    mutating func sendRequests() {
        guard connected else { return }
        let batch = schedule.take(now: fetcher.clock.elapsed(), limit: FetchRequest.maxChunks)
        guard !batch.isEmpty else { return }
        var chunks: [Int] = []
        var head = false
        for piece in batch {
            switch piece {
            case .head: head = true
            case .chunk(let index): chunks.append(index)
            }
        }
        requestCount += 1
        outbox.yield(
            FetchRequest(
                id: "\(fetcher.requestPrefix)-\(requestCount)", time: fetcher.wallClock(), packageId: fetcher.packageId,
                head: head ? true : nil, chunks: chunks, replyTopic: fetcher.replyTopic))
        fetcher.update {
            $0.requestsSent += 1
            $0.chunksRequested += chunks.count
        }
    }

    // MARK: - Inputs

    /// Reacts to one input; returns the package once it is complete and verified.
    mutating func handle(_ input: ChunkFetcher.Input) throws(TransferError) -> ModelPackage? {
        switch input {
        case .message(let message):
            return try receive(message)
        case .event(.disconnected):
            if connected {
                connected = false
                fetcher.update { $0.disconnects += 1 }
            }
        case .event(.connected):
            if !connected {
                connected = true
                let again = schedule.requeueOutstanding()
                fetcher.update { $0.rerequested += again }
            }
        case .tick:
            guard connected else { return nil }
            let (expired, exhausted) = schedule.expire(now: fetcher.clock.elapsed())
            fetcher.update {
                $0.timeouts += expired.count
                $0.rerequested += expired.count
            }
            if let exhausted {
                throw TransferError(
                    .timedOut,
                    "no reply to \(fetcher.configuration.maxTimeouts) requests for \(describe(exhausted)) of \(name); "
                        + "check that the hub serves it and that this device may read \(fetcher.replyTopic)")
            }
        case .sendFailed(let error):
            throw TransferError(.transport, "cannot publish a fetch request for \(name): \(error.message)", underlying: error)
        case .ended:
            throw TransferError(.inputEnded, "the message stream ended before \(name) was complete")
        }
        return nil
    }

    func describe(_ piece: TransferPiece) -> String {
        switch piece {
        case .head: "the head"
        case .chunk(let index): "chunk \(index)"
        }
    }
}
