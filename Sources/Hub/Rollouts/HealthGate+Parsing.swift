extension HealthGate {
    /// Parses `METRIC OP BOUND`; BOUND is `NUMBER`, `baseline`, `baseline + N`, `baseline - N`,
    /// `F * baseline`, or `F * baseline ± N`. Throws `RolloutError.invalidGate` naming the problem.
    public init(parsing text: String) throws(RolloutError) {
        let tokens = Self.tokens(text)
        func fail(_ why: String) -> RolloutError {
            RolloutError(.invalidGate, "gate '\(text)': \(why) (e.g. 'error_rate <= baseline + 0.01', 'p95_latency <= 1.2 * baseline')")
        }
        guard tokens.count >= 3 else { throw fail("write METRIC OP BOUND") }
        guard let metric = Metric(rawValue: tokens[0]) else {
            throw fail("unknown metric '\(tokens[0])'; one of \(Metric.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let comparison = Comparison(rawValue: tokens[1]) else {
            throw fail("unknown comparison '\(tokens[1])'; one of <=, >=, <, >")
        }
        var rest = Array(tokens[2...])
        var factor = 1.0
        if rest.count >= 3, rest[1] == "*", let value = Double(rest[0]), rest[2] == "baseline" {
            factor = value
            rest.removeFirst(2)
        }
        let bound: Bound
        switch rest.count {
        case 1 where rest[0] == "baseline": bound = .baseline(factor: factor, offset: 0)
        case 1:
            guard let value = Double(rest[0]), value.isFinite else { throw fail("'\(rest[0])' is not a number") }
            bound = .constant(value)
        case 3 where rest[0] == "baseline" && (rest[1] == "+" || rest[1] == "-"):
            guard let value = Double(rest[2]), value.isFinite else { throw fail("'\(rest[2])' is not a number") }
            bound = .baseline(factor: factor, offset: rest[1] == "+" ? value : -value)
        default: throw fail("the bound must be a number or relative to 'baseline'")
        }
        self.init(metric: metric, comparison: comparison, bound: bound)
    }

    /// Splits on spaces and around operators (`<=`, `>=`, `<`, `>`, `*`, `+`, `-` between terms).
    private static func tokens(_ text: String) -> [String] {
        var result: [String] = []
        var current = ""
        let characters = Array(text)
        var index = 0
        func flush() {
            if !current.isEmpty { result.append(current) }
            current = ""
        }
        while index < characters.count {
            let c = characters[index]
            if c == " " || c == "\t" {
                flush()
            } else if c == "<" || c == ">" {
                flush()
                if index + 1 < characters.count, characters[index + 1] == "=" {
                    result.append(String(c) + "=")
                    index += 1
                } else {
                    result.append(String(c))
                }
            } else if c == "*" || ((c == "+" || c == "-") && (current == "baseline" || (current.isEmpty && result.last == "baseline"))) {
                flush()
                result.append(String(c))
            } else {
                current.append(c)
            }
            index += 1
        }
        flush()
        return result
    }
}
