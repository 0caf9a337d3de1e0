/// What the fetch loop does with frames: the head, chunks, and the package once complete.
extension FetchLoop {
    /// Handles one inbound message: a frame on the reply topic, or something to ignore.
    mutating func receive(_ message: Message) throws(TransferError) -> ModelPackage? {
        guard message.topic == fetcher.replyTopic else { return nil }
        let frame: ChunkFrame
        do {
            frame = try ChunkFrame(parsing: message.payload, maxPayload: fetcher.configuration.maxFrameBytes)
        } catch {
            fetcher.update { $0.malformedFrames += 1 }
            return nil
        }
        guard frame.packageId == fetcher.packageId else {
            fetcher.update { $0.foreignFrames += 1 }
            return nil
        }
        switch frame.kind {
        case .head:
            try receiveHead(frame.payload)
            return try finishIfComplete()
        case .chunk:
            return try receiveChunk(index: frame.index, bytes: frame.payload)
        }
    }

    private mutating func receiveHead(_ bytes: [UInt8]) throws(TransferError) {
        guard store == nil else {
            fetcher.update { $0.duplicates += 1 }
            return
        }
        let head: PackageHead
        do throws(ArtifactError) {
            head = try fetcher.verifier.verifyHead(bytes)
            guard head.id == fetcher.packageId else {
                throw ArtifactError(.chunkFromOtherPackage, "the head received is of package \(head.id.prefix(16)), not \(name)")
            }
        } catch {
            fetcher.update { $0.rejected[error.code, default: 0] += 1 }
            guard schedule.rejected(.head) else {
                throw TransferError(
                    .headRefused,
                    "the head of \(name) failed verification \(schedule.rejections[.head] ?? 0) times, last: \(error.message)",
                    underlying: error)
            }
            fetcher.update { $0.rerequested += 1 }
            return
        }
        schedule.arrived(.head)
        try adopt(try makeStore(head))
    }

    private mutating func receiveChunk(index: Int, bytes: [UInt8]) throws(TransferError) -> ModelPackage? {
        guard store != nil else {
            fetcher.update { $0.earlyFrames += 1 }
            return nil
        }
        let isNew: Bool
        do {
            isNew = try store!.receive(Chunk(packageId: fetcher.packageId, index: index, bytes: bytes))
        } catch {
            guard error.code != .io else {
                throw TransferError(.storage, "cannot keep chunk \(index) of \(name): \(error.message)", underlying: error)
            }
            fetcher.update { $0.rejected[error.code, default: 0] += 1 }
            // Not ours to ask again: an index the package does not have, or a bad copy of a chunk we hold.
            guard error.code != .chunkIndexOutOfRange, !store!.received.contains(index) else { return nil }
            guard schedule.rejected(.chunk(index)) else {
                throw TransferError(
                    .chunkRefused,
                    "chunk \(index) of \(name) was refused \(schedule.rejections[.chunk(index)] ?? 0) times, last: "
                        + "\(error.message); the hub may be serving a damaged package",
                    underlying: error)
            }
            fetcher.update { $0.rerequested += 1 }
            return nil
        }
        schedule.arrived(.chunk(index))
        let size = bytes.count
        fetcher.update {
            if isNew {
                $0.chunksReceived += 1
                $0.bytesReceived += size
            } else {
                $0.duplicates += 1
            }
        }
        return isNew ? try finishIfComplete() : nil
    }

    // MARK: - Completion

    /// Once every chunk is on disk: reads them back, checks them and the whole payload, and
    /// returns the package. A chunk damaged on disk since is fetched again.
    mutating func finishIfComplete() throws(TransferError) -> ModelPackage? {
        guard store?.isComplete == true else { return nil }
        do {
            let package = try store!.assemble()
            fetcher.update { $0.isComplete = true }
            return package
        } catch {
            switch error.code {
            case .chunkDigestMismatch:
                let missing = store!.missing
                let (received, bytes) = (store!.received.count, store!.receivedBytes)
                fetcher.update {
                    $0.chunksDiscarded += 1
                    $0.chunksReceived = received
                    $0.bytesReceived = bytes
                }
                schedule.want(missing.map { .chunk($0) })
                return nil
            case .payloadDigestMismatch:
                throw TransferError(
                    .payloadRefused, "every chunk of \(name) matches the manifest but the payload does not: \(error.message)",
                    underlying: error)
            default:
                throw TransferError(
                    .storage, "cannot assemble \(name) from '\(fetcher.directory)': \(error.message)", underlying: error)
            }
        }
    }
}
