/// The pure logic of micro-batching: which queued jobs run together, and when. Each event
/// returns the action the caller performs; at most one batch runs at a time.
///
/// A job that finds the model idle runs at once, or, when `maxWait` is set and the last batch
/// held more than one row (the model is under load), after `maxWait` unless `maxBatch` rows
/// gather first. A lone client therefore never waits for company that does not come (after its
/// first request), while concurrent clients still fill batches. Jobs that arrive while a batch
/// runs form the next batch, which starts as soon as the running one finishes.
struct BatchStateMachine<Job> {
    /// What the caller must do next.
    enum Action {
        /// Nothing.
        case none
        /// Run these jobs as one batch, then report `batchFinished()`.
        case run([Job])
        /// Call `timerFired(generation)` after the configuration's `maxWait`.
        case startTimer(generation: UInt64)
        /// Refuse the job: the queue is full.
        case reject(Job)
    }

    private enum State {
        case idle
        /// Waiting for more jobs until the timer of this generation fires.
        case waiting(generation: UInt64)
        case running
    }

    let configuration: BatchingConfiguration
    private var state = State.idle
    private var queue: [(job: Job, rows: Int)] = []
    private var head = 0
    private var queuedRows = 0
    private var generation: UInt64 = 0
    /// Rows of the last batch started; the start counts as loaded, so the first job may wait.
    private var lastBatchRows = Int.max

    init(configuration: BatchingConfiguration) {
        self.configuration = configuration
    }

    /// Rows waiting (not yet running).
    var waitingRows: Int { queuedRows }

    /// A job of `rows` samples arrives.
    mutating func submit(_ job: Job, rows: Int) -> Action {
        guard queuedRows + rows <= configuration.maxQueuedRows || queuedRows == 0 else { return .reject(job) }
        queue.append((job, rows))
        queuedRows += rows
        switch state {
        case .idle:
            if configuration.maxWait == .zero || queuedRows >= configuration.maxBatch || lastBatchRows <= 1 {
                return startBatch()
            }
            generation &+= 1
            state = .waiting(generation: generation)
            return .startTimer(generation: generation)
        case .waiting:
            return queuedRows >= configuration.maxBatch ? startBatch() : .none
        case .running:
            return .none
        }
    }

    /// The wait timer of `generation` fired.
    mutating func timerFired(generation fired: UInt64) -> Action {
        switch state {
        case .waiting(let current) where current == fired:
            return startBatch()
        case .idle, .waiting, .running:
            return .none  // a stale timer: its batch already started
        }
    }

    /// The running batch finished.
    mutating func batchFinished() -> Action {
        guard case .running = state else { preconditionFailure("batchFinished without a running batch") }
        if queuedRows == 0 {
            state = .idle
            return .none
        }
        return startBatch()
    }

    /// Takes jobs from the front up to `maxBatch` rows (always at least one) and marks running.
    private mutating func startBatch() -> Action {
        var taken: [Job] = []
        var rows = 0
        while head < queue.count {
            let next = queue[head]
            guard taken.isEmpty || rows + next.rows <= configuration.maxBatch else { break }
            taken.append(next.job)
            rows += next.rows
            head += 1
        }
        queuedRows -= rows
        lastBatchRows = rows
        if head == queue.count {
            queue.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 64 && head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
        state = .running
        return .run(taken)
    }
}
