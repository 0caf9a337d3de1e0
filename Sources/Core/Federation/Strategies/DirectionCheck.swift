/// The direction check before a robust rule (a Starling option, not in Flower): from the second
/// round on, updates whose cosine similarity with the previous round's aggregate step is at most
/// `minimumCosine` are left out. A sign-flipped update has an honest norm and sits inside the
/// honest spread, so norm bounds, mixing and the robust rules cannot see it; it points against
/// the direction the honest majority moved the model last round, which this sees. When fewer than
/// half the updates pass, the reference is too weak to trust and none are left out.
///
/// It assumes a model moves in a consistent direction over consecutive rounds (true early and
/// mid-training); an attacker that knows the rule can stay under it by sending the previous step
/// itself, which a robust rule after it then outvotes.
struct DirectionCheck: Sendable, Equatable {
    /// Updates at or below this cosine similarity with the previous step are left out.
    let minimumCosine: Double
    /// The previous round's aggregate step (new global − old global); nil before the first.
    private(set) var previousStep: [Float]?

    /// A check with `minimumCosine` in [-1, 1).
    init(minimumCosine: Double) throws(FederationError) {
        guard minimumCosine.isFinite, minimumCosine >= -1, minimumCosine < 1 else {
            throw FederationError(.invalidArgument, "direction must be in [-1, 1), got \(minimumCosine)")
        }
        self.minimumCosine = minimumCosine
    }

    /// The updates that pass (all of them in the first round, or when fewer than half pass).
    func filter(_ updates: [ClientUpdate]) -> [ClientUpdate] {
        guard let previousStep else { return updates }
        let kept = updates.filter { AggregationMath.cosine($0.delta, previousStep) > minimumCosine }
        return kept.count * 2 >= updates.count ? kept : updates
    }

    /// Remembers the step the rule took this round.
    mutating func record(step: [Float]) { previousStep = step }

    /// Writes the previous step.
    func write(to w: inout SnapshotWriter) {
        w.bool(previousStep != nil)
        if let previousStep { w.floats(previousStep) }
    }

    /// Reads what `write` wrote.
    mutating func read(from r: inout SnapshotReader) throws(FederationError) {
        previousStep = try r.bool() ? try r.floats() : nil
    }
}

/// The optional steps before a robust rule (FedMedian, FedTrimmedAvg, Krum): the direction check,
/// then nearest-neighbour mixing. Both off leaves the rule exactly Flower's.
struct RobustPreparation: Sendable, Equatable {
    /// Nearest-neighbour mixing against this many malicious clients (0: off).
    let mixing: Int
    private var direction: DirectionCheck?

    /// The steps, checked: `mixing` ≥ 0, `direction` (a minimum cosine, nil: off) in [-1, 1).
    init(mixing: Int, direction: Double?) throws(FederationError) {
        guard mixing >= 0 else { throw FederationError(.invalidArgument, "mixing must be ≥ 0, got \(mixing)") }
        self.mixing = mixing
        self.direction = try direction.map { (value: Double) throws(FederationError) in try DirectionCheck(minimumCosine: value) }
    }

    /// The updates the direction check keeps, and their deltas after mixing (in the same order).
    func prepare(_ updates: [ClientUpdate]) -> (kept: [ClientUpdate], deltas: [[Float]]) {
        let kept = direction?.filter(updates) ?? updates
        return (kept, AggregationMath.mixed(kept.map(\.delta), malicious: mixing))
    }

    /// Remembers the step the rule took, for the next round's direction check.
    mutating func record(step: [Float]) { direction?.record(step: step) }

    /// Writes the state (the previous step, when the direction check is on).
    func write(to w: inout SnapshotWriter) { direction?.write(to: &w) }

    /// Reads what `write` wrote.
    mutating func read(from r: inout SnapshotReader) throws(FederationError) { try direction?.read(from: &r) }
}

extension AggregationMath {
    /// The cosine similarity of `a` and `b` (0 when either is all zeros), in Double.
    public static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        var dot = 0.0, aa = 0.0, bb = 0.0
        for k in 0..<min(a.count, b.count) {
            let x = Double(a[k]), y = Double(b[k])
            dot += x * y
            aa += x * x
            bb += y * y
        }
        let norms = (aa * bb).squareRoot()
        return norms > 0 ? dot / norms : 0
    }
}
