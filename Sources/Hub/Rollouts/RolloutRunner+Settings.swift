extension RolloutRunner {
    /// The runner's settings.
    public struct Settings: Sendable, Equatable {
        /// How often active rollouts are evaluated.
        public var tickInterval: Duration
        /// Events shown with a rollout.
        public var eventLimit: Int
        /// How long a device of a rolled-back rollout may go on reporting the candidate after a
        /// rollback order before it is sent a fresh one.
        public var rollbackResendInterval: Duration
        /// How many fresh rollback orders a device still on the candidate is sent at most.
        public var rollbackResends: Int
        /// How long after a rollback its devices are checked for the candidate.
        public var rollbackCheckPeriod: Duration

        /// Settings.
        public init(
            tickInterval: Duration = .seconds(5), eventLimit: Int = 50, rollbackResendInterval: Duration = .seconds(60),
            rollbackResends: Int = 3, rollbackCheckPeriod: Duration = .seconds(30 * 60)
        ) {
            self.tickInterval = tickInterval
            self.eventLimit = eventLimit
            self.rollbackResendInterval = rollbackResendInterval
            self.rollbackResends = rollbackResends
            self.rollbackCheckPeriod = rollbackCheckPeriod
        }
    }
}

extension Duration {
    /// The duration in whole milliseconds.
    var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
