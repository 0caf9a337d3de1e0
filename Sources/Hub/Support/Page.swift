/// Which page of a list to read: at most `limit` items after `cursor`.
///
/// Lists use keyset pagination over a stable order, so a page never repeats or skips an item
/// when rows are added meanwhile. The cursor is opaque: pass back `Page.next` unchanged.
public struct PageRequest: Sendable, Equatable {
    /// The most items a page may hold.
    public static let maxLimit = 500

    /// Items per page, 1 to `maxLimit`.
    public var limit: Int
    /// Where the page starts: `Page.next` of the previous page, or nil for the first page.
    public var cursor: String?

    /// The first page (or the page after `cursor`) of up to `limit` items.
    public init(limit: Int = 50, cursor: String? = nil) {
        self.limit = limit
        self.cursor = cursor
    }

    /// Checks the limit and returns the cursor as a row sequence number (nil for the first page).
    func sequenceCursor() throws(HubStoreError) -> Int64? {
        try checkLimit()
        guard let cursor else { return nil }
        guard let value = Int64(cursor), value >= 0 else {
            throw HubStoreError(.invalidArgument, "cursor '\(cursor)' is not one this list returned; start from the first page")
        }
        return value
    }

    /// Checks the limit.
    func checkLimit() throws(HubStoreError) {
        guard (1...Self.maxLimit).contains(limit) else {
            throw HubStoreError(.invalidArgument, "limit \(limit) must be within 1...\(Self.maxLimit)")
        }
    }
}

/// One page of a list and the cursor of the next one.
public struct Page<Item: Sendable>: Sendable {
    /// The items, in the list's order.
    public var items: [Item]
    /// The cursor for the next page; nil when this is the last one.
    public var next: String?

    /// A page of `items` followed by the page at `next`.
    public init(items: [Item], next: String?) {
        self.items = items
        self.next = next
    }

    /// A page from up to `limit + 1` fetched rows: the extra row only says that more follow.
    static func trimmed(_ rows: [Item], limit: Int, cursor: (Item) -> String) -> Page {
        guard rows.count > limit else { return Page(items: rows, next: nil) }
        let items = Array(rows.prefix(limit))
        return Page(items: items, next: items.last.map(cursor))
    }
}

extension Page: Equatable where Item: Equatable {}
