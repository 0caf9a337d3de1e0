import ArgumentParser
import Foundation

/// Where the hub is, how to authenticate, and how to print: shared by every hub command.
struct HubOptions: ParsableArguments {
    @Option(help: "The hub's URL (default: $STARLING_HUB_URL or http://127.0.0.1:8080).")
    var hub: String?
    @Option(help: "The API token, stk_... (default: $STARLING_HUB_TOKEN).")
    var token: String?
    @Option(help: "A file holding the API token (instead of --token).")
    var tokenFile: String?
    @Flag(help: "Print the hub's JSON instead of a table.")
    var json = false

    static let defaultURL = "http://127.0.0.1:8080"

    func validate() throws {
        if token != nil && tokenFile != nil { throw ValidationError("give --token or --token-file, not both") }
        _ = try baseURL()
    }

    /// The hub's URL: `--hub`, else `$STARLING_HUB_URL`, else the default.
    func baseURL() throws(ValidationError) -> URL {
        let text = hub ?? ProcessInfo.processInfo.environment["STARLING_HUB_URL"] ?? Self.defaultURL
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            url.host != nil
        else {
            throw ValidationError("the hub URL '\(text)' must be http://HOST[:PORT] or https://HOST[:PORT]")
        }
        return url
    }

    /// The token: `--token`, else the contents of `--token-file`, else `$STARLING_HUB_TOKEN`.
    func bearer() throws(HubError) -> String? {
        if let token { return token }
        if let tokenFile {
            guard let data = FileManager.default.contents(atPath: tokenFile) else {
                throw HubError(.local, "cannot read the token file '\(tokenFile)'")
            }
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { throw HubError(.local, "the token file '\(tokenFile)' is empty") }
            return text
        }
        return ProcessInfo.processInfo.environment["STARLING_HUB_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Runs `body` with a client; a `HubError` is printed as one line on standard error and
    /// ends the command with exit status 1.
    func run(_ body: (HubClient) async throws -> Void) async throws {
        do {
            try await body(HubClient(base: try baseURL(), token: try bearer()))
        } catch let error as HubError {
            Output.note(error.description)
            throw ExitCode.failure
        }
    }

    /// Prints `value` as JSON when `--json` is given, else the text `table()` makes.
    func show(_ value: JSONValue, table: () throws -> String) rethrows {
        Swift.print(json ? HubOutput.json(value) : try table())
    }
}

/// How much of a list to fetch: pages are followed through the hub's `next` cursor.
struct ListOptions: ParsableArguments {
    @Option(help: "The most items to show.")
    var limit = 50
    @Flag(help: "Show every item, however many pages that takes.")
    var all = false
    @Option(help: "Start at this cursor (the `next` of an earlier list).")
    var cursor: String?

    func validate() throws {
        guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
    }
}

/// A fetched list: its items and the cursor of what follows (nil at the end).
struct Listing: Sendable {
    var items: [JSONValue]
    var next: String?

    /// `{"items": [...], "next": ...}`, as the hub answers one page.
    var json: JSONValue { .object(["items": .array(items), "next": next.map(JSONValue.string) ?? .null]) }

    /// Each item decoded as `T`.
    func decode<T: Decodable>(_ type: T.Type) throws(HubError) -> [T] {
        var out: [T] = []
        for item in items { out.append(try item.decode(T.self)) }
        return out
    }
}

extension HubClient {
    /// The largest page the hub serves.
    static let maxPage = 500

    /// Fetches the list at `path`, following `next` until `options` are satisfied; without
    /// `options` (lists the hub does not page) one request, following `next` if it comes anyway.
    func list(_ path: [String], query: [(String, String)] = [], paging options: ListOptions?) async throws(HubError) -> Listing {
        var listing = Listing(items: [], next: options?.cursor)
        repeat {
            var pageQuery = query
            if let options {
                let wanted = options.all ? Self.maxPage : min(Self.maxPage, options.limit - listing.items.count)
                pageQuery.append(("limit", String(wanted)))
            }
            if let cursor = listing.next { pageQuery.append(("cursor", cursor)) }
            let page = try await json(HubRequest("GET", path, query: pageQuery))
            guard case .array(let items)? = page["items"] else {
                throw HubError(.local, "the hub's answer to GET \(url(for: HubRequest("GET", path)).path) has no items list")
            }
            listing.items += items
            listing.next = page["next"]?.string
        } while listing.next != nil && (options.map { $0.all || listing.items.count < $0.limit } ?? true)
        if listing.next != nil, let options, !options.all {
            Output.note("(more items follow: --all, --limit N or --cursor \(listing.next!))")
        }
        return listing
    }
}
