import GRDB
import Synchronization

/// The store's one writer of predictions and feedback: a background loop over a bounded queue.
///
/// `record` never waits: it appends to a queue of at most `capacity` predictions and returns;
/// when the queue is full the prediction is dropped and counted (the overflow policy: serving
/// latency never depends on the disk). Feedback is never dropped: `attach` waits until its rows
/// are committed. Each turn of the loop takes everything queued, predictions first, and writes
/// it in one transaction, so a label always finds a prediction recorded before it and the
/// transaction grows with the load (group commit).
final class StoreWriter: Sendable {
    struct FeedbackJob {
        let items: [FeedbackInput]
        let continuation: CheckedContinuation<[FeedbackResult], any Error>
    }

    struct FlushWaiter {
        let through: Int
        let continuation: CheckedContinuation<Void, Never>
    }

    struct State {
        var predictions: [PredictionRecord] = []
        var jobs: [FeedbackJob] = []
        var flushes: [FlushWaiter] = []
        var wakeup: CheckedContinuation<Void, Never>?
        var closing = false
        /// Predictions taken off the queue and written, ignored or failed.
        var processed = 0
        var statistics = StoreStatistics(
            predictionsAccepted: 0, predictionsDropped: 0, predictionsWritten: 0, predictionsIgnored: 0,
            predictionsFailed: 0, predictionsQueued: 0, writeTransactions: 0, feedbackAttached: 0)
    }

    private let pool: DatabasePool
    private let capacity: Int
    private let inputLogging: InputLogging
    private let state = Mutex(State())
    /// Runs after each commit with the predictions written and labels attached.
    private let afterCommit: @Sendable (_ predictions: Int, _ labels: Int) async -> Void

    init(
        pool: DatabasePool, capacity: Int, inputLogging: InputLogging,
        afterCommit: @escaping @Sendable (_ predictions: Int, _ labels: Int) async -> Void
    ) {
        self.pool = pool
        self.capacity = capacity
        self.inputLogging = inputLogging
        self.afterCommit = afterCommit
    }

    // MARK: - Callers

    /// Queues `prediction`; false if it was dropped (queue full, or the store is closing).
    func record(_ prediction: PredictionRecord) -> Bool {
        let wakeup = state.withLock { s -> CheckedContinuation<Void, Never>?? in
            guard !s.closing, s.predictions.count < capacity else {
                s.statistics.predictionsDropped += 1
                return .none
            }
            s.predictions.append(prediction)
            s.statistics.predictionsAccepted += 1
            defer { s.wakeup = nil }
            return .some(s.wakeup)
        }
        guard let wakeup else { return false }
        wakeup?.resume()
        return true
    }

    /// Stores `items` and returns once they are committed.
    func attach(_ items: [FeedbackInput]) async throws -> [FeedbackResult] {
        guard !items.isEmpty else { return [] }
        return try await withCheckedThrowingContinuation { continuation in
            let outcome = state.withLock { s -> (accepted: Bool, wakeup: CheckedContinuation<Void, Never>?) in
                guard !s.closing else { return (false, nil) }
                s.jobs.append(FeedbackJob(items: items, continuation: continuation))
                defer { s.wakeup = nil }
                return (true, s.wakeup)
            }
            guard outcome.accepted else {
                continuation.resume(throwing: StoreError(.closed, "the store is closed; feedback was not stored"))
                return
            }
            outcome.wakeup?.resume()
        }
    }

    /// Returns once every prediction accepted before the call is written (or has failed).
    func flush() async {
        await withCheckedContinuation { continuation in
            let outcome = state.withLock { s -> (done: Bool, wakeup: CheckedContinuation<Void, Never>?) in
                let through = s.statistics.predictionsAccepted
                guard s.processed < through else { return (true, nil) }
                s.flushes.append(FlushWaiter(through: through, continuation: continuation))
                defer { s.wakeup = nil }
                return (false, s.wakeup)
            }
            if outcome.done { continuation.resume() } else { outcome.wakeup?.resume() }
        }
    }

    /// The counters so far.
    var statistics: StoreStatistics {
        state.withLock { s in
            var out = s.statistics
            out.predictionsQueued = s.predictions.count
            return out
        }
    }

    /// Makes the loop finish what is queued and end; later `record` and `attach` are refused.
    func shutDown() {
        let wakeup = state.withLock { s in
            s.closing = true
            defer { s.wakeup = nil }
            return s.wakeup
        }
        wakeup?.resume()
    }

    // MARK: - The loop

    /// Writes until `shutDown` and the queue is empty.
    func run() async {
        while let (predictions, jobs) = await nextWork() {
            await write(predictions, jobs)
        }
    }

    /// Everything queued, waiting while there is nothing; nil once closing with an empty queue.
    private func nextWork() async -> ([PredictionRecord], [FeedbackJob])? {
        while true {
            enum Next {
                case work([PredictionRecord], [FeedbackJob])
                case finished
                case wait
            }
            let next = state.withLock { s -> Next in
                if !s.predictions.isEmpty || !s.jobs.isEmpty {
                    defer {
                        s.predictions = []
                        s.jobs = []
                    }
                    return .work(s.predictions, s.jobs)
                }
                return s.closing ? .finished : .wait
            }
            switch next {
            case .work(let predictions, let jobs): return (predictions, jobs)
            case .finished: return nil
            case .wait:
                await withCheckedContinuation { continuation in
                    let ready = state.withLock { s in
                        guard s.predictions.isEmpty, s.jobs.isEmpty, !s.closing else { return true }
                        s.wakeup = continuation
                        return false
                    }
                    if ready { continuation.resume() }
                }
            }
        }
    }

    private func write(_ predictions: [PredictionRecord], _ jobs: [FeedbackJob]) async {
        let logging = inputLogging
        var written = 0
        var results: [Result<[FeedbackResult], any Error>] = []
        var transactions = 0
        var failure: StoreError?
        var lost = false
        do {
            // The common case: one transaction for everything taken.
            let outcome = try await pool.write { db in
                let inserted = try AgentStore.insert(predictions, logging: logging, db)
                let labels = try jobs.map { try AgentStore.insertFeedback($0.items, db) }
                return (inserted, labels)
            }
            written = outcome.0
            results = outcome.1.map { .success($0) }
            transactions = 1
        } catch {
            // Isolate the failure: predictions alone, then each caller's labels alone.
            failure = StoreError(.databaseFailed, "the store failed writing a batch", underlying: error)
            if !predictions.isEmpty {
                do {
                    written = try await pool.write { db in try AgentStore.insert(predictions, logging: logging, db) }
                    transactions += 1
                } catch {
                    failure = StoreError(.databaseFailed, "the store failed writing predictions", underlying: error)
                    lost = true
                }
            }
            results = []
            for job in jobs {
                do {
                    results.append(.success(try await pool.write { db in try AgentStore.insertFeedback(job.items, db) }))
                    transactions += 1
                } catch {
                    results.append(.failure(error))
                }
            }
        }
        let labels = results.reduce(0) { total, result in
            total + ((try? result.get())?.filter { $0 == .attached }.count ?? 0)
        }
        let writtenNow = written
        let lostNow = lost
        let waiters = state.withLock { s -> [FlushWaiter] in
            s.processed += predictions.count
            s.statistics.writeTransactions += transactions
            s.statistics.predictionsWritten += writtenNow
            s.statistics.feedbackAttached += labels
            if lostNow {
                s.statistics.predictionsFailed += predictions.count
            } else {
                s.statistics.predictionsIgnored += predictions.count - writtenNow
            }
            if let failure { s.statistics.lastWriteError = failure }
            let processed = s.processed
            let due = s.flushes.filter { $0.through <= processed }
            s.flushes.removeAll { $0.through <= processed }
            return due
        }
        for (job, result) in zip(jobs, results) {
            switch result {
            case .success(let outcome): job.continuation.resume(returning: outcome)
            case .failure(let error):
                job.continuation.resume(
                    throwing: StoreError(.databaseFailed, "the store failed writing feedback", underlying: error))
            }
        }
        for waiter in waiters { waiter.continuation.resume() }
        await afterCommit(writtenNow, labels)
    }
}
