/// What a fetcher asks for: the package head, or a payload chunk (the head sorts first).
enum TransferPiece: Hashable, Sendable, Comparable {
    /// The signed package head.
    case head
    /// Payload chunk `index`.
    case chunk(Int)
}

/// The fetcher's bookkeeping, without any I/O: which pieces are still to ask for, which are
/// outstanding and until when, and how often each went unanswered or came back damaged.
///
/// At most `window` pieces are outstanding. Freed slots are refilled once a quarter of the
/// window is free (fewer requests, each for several chunks), or at once when what is left fits.
/// Pieces to ask again (timed out, refused, or outstanding at a reconnect) go before fresh ones.
///
/// Times are durations since the transfer started (`TransferClock`).
struct FetchSchedule {
    /// Why a piece is asked for again.
    enum Retry: Equatable {
        /// Its reply did not come within the timeout.
        case timedOut
        /// Its reply was damaged.
        case rejected
        /// The connection came back; the reply may have been lost with it.
        case reconnected
    }

    let window: Int
    let timeout: Duration
    let maxTimeouts: Int
    let maxRejections: Int

    private var retries: [TransferPiece] = []
    private var fresh: [TransferPiece] = []
    private var cursor = 0
    private var waiting: Set<TransferPiece> = []
    private(set) var outstanding: [TransferPiece: Duration] = [:]
    private(set) var timeouts: [TransferPiece: Int] = [:]
    private(set) var rejections: [TransferPiece: Int] = [:]

    init(window: Int, timeout: Duration, maxTimeouts: Int, maxRejections: Int) {
        self.window = max(1, window)
        self.timeout = timeout
        self.maxTimeouts = maxTimeouts
        self.maxRejections = maxRejections
    }

    /// Nothing left to ask for and nothing outstanding.
    var isIdle: Bool { waiting.isEmpty && outstanding.isEmpty }

    /// Pieces not yet asked for (or to ask again).
    var waitingCount: Int { waiting.count }

    /// Adds pieces to fetch, in order; pieces already waiting or outstanding are skipped.
    mutating func want(_ pieces: [TransferPiece]) {
        for piece in pieces where outstanding[piece] == nil && waiting.insert(piece).inserted {
            fresh.append(piece)
        }
    }

    /// The pieces to request now (at most `limit`), now outstanding until `now + timeout`.
    mutating func take(now: Duration, limit: Int) -> [TransferPiece] {
        let free = window - outstanding.count
        let available = waiting.count
        let count = min(free, available, limit)
        guard count > 0, count >= min(max(1, window / 4), available, limit) else { return [] }
        var taken: [TransferPiece] = []
        taken.reserveCapacity(count)
        while taken.count < count, let piece = popWaiting() {
            taken.append(piece)
            outstanding[piece] = now + timeout
        }
        return taken
    }

    private mutating func popWaiting() -> TransferPiece? {
        while !retries.isEmpty {
            let piece = retries.removeFirst()
            if waiting.remove(piece) != nil { return piece }
        }
        while cursor < fresh.count {
            let piece = fresh[cursor]
            cursor += 1
            if waiting.remove(piece) != nil { return piece }
        }
        fresh = []
        cursor = 0
        return nil
    }

    /// A piece arrived intact (asked for or not): it is done.
    mutating func arrived(_ piece: TransferPiece) {
        outstanding[piece] = nil
        waiting.remove(piece)
    }

    /// A damaged copy of `piece` arrived: it is asked for again, unless this was one rejection
    /// too many (returns false: give up).
    mutating func rejected(_ piece: TransferPiece) -> Bool {
        rejections[piece, default: 0] += 1
        guard rejections[piece]! <= maxRejections else { return false }
        askAgain(piece)
        return true
    }

    /// Pieces whose deadline has passed at `now`, to ask again; `exhausted` names one that went
    /// unanswered `maxTimeouts` times (give up).
    mutating func expire(now: Duration) -> (expired: [TransferPiece], exhausted: TransferPiece?) {
        let due = Self.byDeadline(outstanding.filter { $0.value <= now })
        var exhausted: TransferPiece?
        for piece in due {
            timeouts[piece, default: 0] += 1
            if timeouts[piece]! >= maxTimeouts, exhausted == nil { exhausted = piece }
            askAgain(piece)
        }
        return (due, exhausted)
    }

    /// After a reconnect: every outstanding piece is asked for again; returns how many.
    mutating func requeueOutstanding() -> Int {
        let pieces = Self.byDeadline(outstanding)
        for piece in pieces { askAgain(piece) }
        return pieces.count
    }

    private static func byDeadline(_ pieces: [TransferPiece: Duration]) -> [TransferPiece] {
        pieces.sorted { $0.value < $1.value || ($0.value == $1.value && $0.key < $1.key) }.map(\.key)
    }

    private mutating func askAgain(_ piece: TransferPiece) {
        outstanding[piece] = nil
        if waiting.insert(piece).inserted { retries.append(piece) }
    }
}
