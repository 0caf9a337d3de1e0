import Synchronization
import Testing

@testable import Agent

@Suite("Inference batching")
struct InferenceBatcherTests {
    typealias Machine = BatchStateMachine<String>

    private func ran(_ action: Machine.Action) -> [String]? {
        if case .run(let jobs) = action { return jobs }
        return nil
    }

    @Test("a job that finds the model idle runs at once; jobs queued meanwhile form the next batch")
    func naturalBatching() {
        var machine = Machine(configuration: BatchingConfiguration(maxBatch: 8))
        #expect(ran(machine.submit("a", rows: 1)) == ["a"])
        for job in ["b", "c", "d"] {
            guard case .none = machine.submit(job, rows: 1) else {
                Issue.record("a job queued while a batch runs must wait")
                return
            }
        }
        #expect(machine.waitingRows == 3)
        #expect(ran(machine.batchFinished()) == ["b", "c", "d"])
        guard case .none = machine.batchFinished() else {
            Issue.record("an empty queue leaves the model idle")
            return
        }
        #expect(ran(machine.submit("e", rows: 1)) == ["e"])
    }

    @Test("a batch holds at most maxBatch rows, and a larger request still runs, alone")
    func maxBatchRows() {
        var machine = Machine(configuration: BatchingConfiguration(maxBatch: 4))
        #expect(ran(machine.submit("first", rows: 1)) == ["first"])
        _ = machine.submit("a", rows: 2)
        _ = machine.submit("b", rows: 2)
        _ = machine.submit("c", rows: 1)
        _ = machine.submit("huge", rows: 9)
        _ = machine.submit("d", rows: 1)
        #expect(ran(machine.batchFinished()) == ["a", "b"])
        #expect(ran(machine.batchFinished()) == ["c"])
        #expect(ran(machine.batchFinished()) == ["huge"])
        #expect(ran(machine.batchFinished()) == ["d"])
    }

    @Test("with maxWait the first job waits for the timer, unless maxBatch rows gather first")
    func maxWait() {
        var machine = Machine(configuration: BatchingConfiguration(maxBatch: 3, maxWait: .milliseconds(2)))
        guard case .startTimer(let first) = machine.submit("a", rows: 1) else {
            Issue.record("an idle model with maxWait starts a timer")
            return
        }
        guard case .none = machine.submit("b", rows: 1) else {
            Issue.record("below maxBatch the batch keeps waiting")
            return
        }
        #expect(ran(machine.timerFired(generation: first)) == ["a", "b"])
        guard case .none = machine.batchFinished() else { return }
        guard case .startTimer(let second) = machine.submit("c", rows: 1) else {
            Issue.record("a new wait starts a new timer")
            return
        }
        #expect(second != first)
        _ = machine.submit("d", rows: 1)
        #expect(ran(machine.submit("e", rows: 1)) == ["c", "d", "e"], "maxBatch rows start the batch before the timer")
        guard case .none = machine.timerFired(generation: second) else {
            Issue.record("a stale timer must not start a batch")
            return
        }
        guard case .none = machine.timerFired(generation: first) else {
            Issue.record("an old timer must not start a batch")
            return
        }
    }

    @Test("with maxWait, after a batch of one row a lone job runs at once; after a larger batch it waits again")
    func adaptiveWait() {
        var machine = Machine(configuration: BatchingConfiguration(maxBatch: 8, maxWait: .milliseconds(2)))
        guard case .startTimer(let first) = machine.submit("a", rows: 1) else {
            Issue.record("the first job waits")
            return
        }
        #expect(ran(machine.timerFired(generation: first)) == ["a"])
        guard case .none = machine.batchFinished() else {
            Issue.record("nothing queued")
            return
        }
        #expect(ran(machine.submit("b", rows: 1)) == ["b"], "a lone client does not wait after a batch of one")
        _ = machine.submit("c", rows: 1)
        _ = machine.submit("d", rows: 1)
        #expect(ran(machine.batchFinished()) == ["c", "d"])
        guard case .none = machine.batchFinished() else {
            Issue.record("nothing queued")
            return
        }
        guard case .startTimer = machine.submit("e", rows: 1) else {
            Issue.record("after a batch of two (load), a job waits for company again")
            return
        }
    }

    @Test("past maxQueuedRows a job is refused, not queued")
    func queueLimit() {
        var machine = Machine(configuration: BatchingConfiguration(maxBatch: 2, maxQueuedRows: 4))
        _ = machine.submit("running", rows: 2)
        _ = machine.submit("a", rows: 2)
        _ = machine.submit("b", rows: 2)
        guard case .reject(let refused) = machine.submit("c", rows: 1) else {
            Issue.record("a full queue refuses")
            return
        }
        #expect(refused == "c")
        #expect(machine.waitingRows == 4)
        #expect(ran(machine.batchFinished()) == ["a"])
        guard case .none = machine.submit("c", rows: 1) else {
            Issue.record("after a batch starts there is room again")
            return
        }
    }

    /// What the batcher did, shared with the tasks that drive it.
    final class Recorder: Sendable {
        let running = Atomic<Int>(0)
        let overlaps = Atomic<Int>(0)
        let batches = Mutex<[[Int]]>([])
        let runs = Mutex<[Int: Int]>([:])
        let batcher = Mutex<MicroBatcher<Int>?>(nil)
    }

    @Test("the batcher runs every job exactly once, one batch at a time, and gathers the jobs that queue behind a running batch")
    func batcherGathersConcurrentJobs() async {
        let recorder = Recorder()
        let pending = 12
        let batcher = MicroBatcher<Int>(
            configuration: BatchingConfiguration(maxBatch: 64),
            execute: { jobs in
                if recorder.running.add(1, ordering: .sequentiallyConsistent).newValue > 1 {
                    recorder.overlaps.add(1, ordering: .relaxed)
                }
                recorder.batches.withLock { $0.append(jobs) }
                if jobs == [0] {
                    // Hold the first batch until every other job is queued behind it.
                    while recorder.batcher.withLock({ $0 })!.waitingRows < pending { yieldThread() }
                }
                for job in jobs { recorder.runs.withLock { $0[job, default: 0] += 1 } }
                recorder.running.subtract(1, ordering: .sequentiallyConsistent)
            },
            reject: { _ in Issue.record("nothing should be refused") })
        recorder.batcher.withLock { $0 = batcher }
        await withTaskGroup(of: Void.self) { group in
            // Job 0 runs its batch on the submitting thread and holds it there until the others
            // are queued: submit it from a thread of its own, never from the pool their tasks need.
            group.addTask { _ = try? await offPool { batcher.submit(0, rows: 1) } }
            group.addTask {
                while recorder.batches.withLock({ $0.isEmpty }) { try? await Task.sleep(for: .milliseconds(1)) }
                await withTaskGroup(of: Void.self) { inner in
                    for job in 1...pending { inner.addTask { batcher.submit(job, rows: 1) } }
                }
            }
        }
        while recorder.runs.withLock({ $0.count }) < pending + 1 { try? await Task.sleep(for: .milliseconds(1)) }
        let all = recorder.batches.withLock { $0 }
        #expect(all.first == [0])
        #expect(all.count == 2, "the jobs queued behind the first batch run as one batch: \(all)")
        #expect(Set(all.dropFirst().flatMap { $0 }) == Set(1...pending))
        #expect(recorder.runs.withLock { $0.values.allSatisfy { $0 == 1 } }, "every job runs exactly once")
        #expect(recorder.overlaps.load(ordering: .relaxed) == 0, "batches never overlap")
    }
}

/// Lets another thread run (the batch-holding test spins on a condition another task sets).
private func yieldThread() {
    sched_yield()
}

#if canImport(Glibc)
    import Glibc
#endif
