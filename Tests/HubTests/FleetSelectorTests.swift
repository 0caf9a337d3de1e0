import Testing

@testable import Hub

@Suite("Fleet selectors and labels")
struct FleetSelectorTests {
    static let north = ["site": "north", "tier": "canary", "hw": "rpi4"]
    static let south = ["site": "south", "hw": "jetson"]

    @Test(
        "selectors match labels",
        arguments: [
            ("", true, true),
            ("site=north", true, false),
            ("site==north", true, false),
            ("site!=north", false, true),
            ("site in (north, south)", true, true),
            ("hw notin (rpi4,x86)", false, true),
            ("tier", true, false),
            ("!tier", false, true),
            ("site=north,tier=canary", true, false),
            ("site in (north,south), !tier, hw=jetson", false, true),
            ("missing!=x", true, true),
        ])
    func matching(selector: String, matchesNorth: Bool, matchesSouth: Bool) throws {
        let parsed = try LabelSelector(parsing: selector)
        #expect(parsed.matches(Self.north) == matchesNorth)
        #expect(parsed.matches(Self.south) == matchesSouth)
        // The canonical text parses back to the same selector.
        #expect(try LabelSelector(parsing: parsed.description) == parsed)
    }

    @Test(
        "bad selectors are refused with the requirement at fault",
        arguments: [
            ("site=", "site="),
            ("site=north,", "empty requirement"),
            ("site in (a,b", "'(' without"),
            ("site in a,b)", "')' without"),
            ("site within (a)", "key in (a,b)"),
            ("si te=x", "key 'si te'"),
            ("site=no+rth", "value 'no+rth'"),
            ("site in (a,(b))", "nested"),
            ("site in (a,)", "value ''"),
        ])
    func refused(selector: String, fragment: String) {
        #expect {
            try LabelSelector(parsing: selector)
        } throws: { error in
            guard let error = error as? FleetError else { return false }
            return error.code == .invalidArgument && error.message.contains(fragment)
        }
    }

    @Test("labels parse from k=v,k2=v2 and refuse duplicates and bad characters")
    func labels() throws {
        #expect(try Labels.parse("site=north, tier=canary") == ["site": "north", "tier": "canary"])
        #expect(try Labels.parse("") == [:])
        #expect(try Labels.parse("team/owner=ml") == ["team/owner": "ml"])
        #expect(Labels.render(["b": "2", "a": "1"]) == "a=1,b=2")
        for bad in ["site", "site=a,site=b", "=x", "site=a/b", "site=\(String(repeating: "x", count: 64))"] {
            #expect(throws: FleetError.self) { try Labels.parse(bad) }
        }
    }
}
