import Testing

@testable import Core

/// The fetcher's pure bookkeeping: window, refill, retries first, timeouts and rejections.
@Suite("Fetch schedule")
struct TransferScheduleTests {
    typealias Schedule = FetchSchedule
    let t0 = Duration.zero

    func at(_ seconds: Int) -> Duration { .seconds(seconds) }

    func chunks(_ range: Range<Int>) -> [TransferPiece] { range.map { .chunk($0) } }

    @Test("the window bounds what is outstanding; slots are refilled a quarter window at a time, and the tail at once")
    func windowAndRefill() {
        var s = Schedule(window: 8, timeout: .seconds(10), maxTimeouts: 3, maxRejections: 2)
        s.want(chunks(0..<11))
        #expect(s.take(now: t0, limit: 1024) == chunks(0..<8))
        #expect(s.take(now: t0, limit: 1024) == [], "window full")
        s.arrived(.chunk(0))
        #expect(s.take(now: t0, limit: 1024) == [], "one free slot is less than a quarter window")
        s.arrived(.chunk(1))
        #expect(s.take(now: t0, limit: 1024) == chunks(8..<10))
        s.arrived(.chunk(2))
        #expect(s.take(now: t0, limit: 1024) == [.chunk(10)], "what is left fits: sent at once")
        #expect(s.outstanding.count == 8)
        s.want(chunks(0..<11))
        #expect(s.waitingCount == 3, "pieces outstanding are not wanted twice; arrived ones are wanted again if asked")
    }

    @Test("the request size limit caps a take")
    func limit() {
        var s = Schedule(window: 64, timeout: .seconds(1), maxTimeouts: 1, maxRejections: 0)
        s.want(chunks(0..<100))
        #expect(s.take(now: t0, limit: 10).count == 10)
    }

    @Test("refused pieces are asked for again before fresh ones, until maxRejections")
    func rejections() {
        var s = Schedule(window: 2, timeout: .seconds(10), maxTimeouts: 3, maxRejections: 2)
        s.want(chunks(0..<5))
        #expect(s.take(now: t0, limit: 9) == chunks(0..<2))
        let first = s.rejected(.chunk(1))
        #expect(first)
        s.arrived(.chunk(0))
        #expect(s.take(now: t0, limit: 9) == [.chunk(1), .chunk(2)])
        let second = s.rejected(.chunk(1))
        let third = s.rejected(.chunk(1))
        #expect(second && !third, "the third refusal is one too many")
        #expect(s.rejections[.chunk(1)] == 3)
    }

    @Test("expired pieces are asked for again first; the maxTimeouts-th timeout of a piece is exhausted")
    func timeouts() {
        var s = Schedule(window: 4, timeout: .seconds(10), maxTimeouts: 2, maxRejections: 2)
        s.want(chunks(0..<6))
        _ = s.take(now: t0, limit: 9)
        s.arrived(.chunk(0))
        s.arrived(.chunk(1))
        #expect(s.take(now: at(5), limit: 9) == chunks(4..<6))
        let first = s.expire(now: at(10))
        #expect(first.expired == chunks(2..<4) && first.exhausted == nil, "chunks 4 and 5 are due at 15 s")
        #expect(s.take(now: at(10), limit: 9) == chunks(2..<4))
        let second = s.expire(now: at(15))
        #expect(second.expired == chunks(4..<6) && second.exhausted == nil)
        let third = s.expire(now: at(20))
        #expect(third.expired == chunks(2..<4) && third.exhausted == .chunk(2))
    }

    @Test("after a reconnect every outstanding piece is asked for again, and the schedule runs dry")
    func reconnect() {
        var s = Schedule(window: 3, timeout: .seconds(10), maxTimeouts: 2, maxRejections: 2)
        s.want([.head])
        #expect(s.take(now: t0, limit: 9) == [.head])
        s.arrived(.head)
        s.want(chunks(0..<3))
        #expect(s.take(now: t0, limit: 9) == chunks(0..<3))
        #expect(s.requeueOutstanding() == 3)
        #expect(s.outstanding.isEmpty && s.waitingCount == 3)
        #expect(s.take(now: at(1), limit: 9) == chunks(0..<3))
        for i in 0..<3 { s.arrived(.chunk(i)) }
        #expect(s.isIdle && s.take(now: at(2), limit: 9) == [])
        #expect(s.timeouts.isEmpty, "a reconnect is not a timeout")
    }
}
