import Dispatch
import Synchronization

/// Runs the decisions of a `BatchStateMachine`: submitted jobs run in batches, one batch at a
/// time, on the thread that submitted the job which started the batch (or the timer's thread
/// when `maxWait` is set). That thread keeps running the batches that queue up meanwhile, so a
/// lone request runs with no thread hop at all.
final class MicroBatcher<Job: Sendable>: Sendable {
    /// Calls `body` once after `delay`, on any thread.
    typealias Scheduler = @Sendable (_ delay: Duration, _ body: @escaping @Sendable () -> Void) -> Void

    private let machine: Mutex<BatchStateMachine<Job>>
    private let execute: @Sendable ([Job]) -> Void
    private let reject: @Sendable (Job) -> Void
    private let schedule: Scheduler
    private let maxWait: Duration

    /// A batcher running batches with `execute` and refusing jobs past the queue limit with `reject`.
    init(
        configuration: BatchingConfiguration, schedule: @escaping Scheduler = MicroBatcher.dispatchScheduler,
        execute: @escaping @Sendable ([Job]) -> Void, reject: @escaping @Sendable (Job) -> Void
    ) {
        machine = Mutex(BatchStateMachine(configuration: configuration))
        maxWait = configuration.maxWait
        self.schedule = schedule
        self.execute = execute
        self.reject = reject
    }

    /// Queues `job` of `rows` samples; it runs now, later on another thread, or is rejected.
    func submit(_ job: Job, rows: Int) {
        let action = machine.withLock { $0.submit(job, rows: rows) }
        perform(action)
    }

    /// Rows waiting to run.
    var waitingRows: Int { machine.withLock { $0.waitingRows } }

    private func perform(_ first: BatchStateMachine<Job>.Action) {
        var action = first
        while true {
            switch action {
            case .none:
                return
            case .reject(let job):
                reject(job)
                return
            case .startTimer(let generation):
                schedule(maxWait) { [self] in
                    perform(machine.withLock { $0.timerFired(generation: generation) })
                }
                return
            case .run(let jobs):
                execute(jobs)
                action = machine.withLock { $0.batchFinished() }
            }
        }
    }

    /// The default scheduler: Dispatch's global queue.
    static var dispatchScheduler: Scheduler {
        { delay, body in
            let (seconds, attoseconds) = delay.components
            let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds), execute: body)
        }
    }
}
