import Core

/// The pure checks that decide whether the device takes a federated task, and how many local
/// epochs fit its budget. Each refusal is a sentence for the `skipped` event.
enum FederatedAdmission {
    /// What the device knows when a task arrives.
    struct Context: Equatable {
        /// `federated.enabled`.
        var enabled: Bool
        /// Whether a device signing key is configured and readable.
        var hasKey: Bool
        /// The firmware profile's training policy.
        var policy: FirmwareProfile.TrainingPolicy
        /// Whether the inference service is idle now.
        var idle: Bool
        /// Whether the device runs on mains power now.
        var onMains: Bool
        /// The active version of the task's model, if installed.
        var installedVersion: String?
        /// Now, ms since the epoch.
        var now: Int64
    }

    /// Why `task` is declined before any data is read, or nil to go on.
    static func precheck(_ task: FLTask, _ context: Context) -> String? {
        if !context.enabled { return "federated learning is disabled on this device (federated.enabled=false)" }
        if !context.hasKey { return "the device has no signing key (set device.keyFile)" }
        if context.now >= task.deadline { return "the task's deadline has passed" }
        if task.kind == "fit" {
            let policy = context.policy
            if !policy.allowed { return "the firmware profile does not allow training" }
            if policy.onlyOnMainsPower && !context.onMains {
                return "the profile trains only on mains power; the device is on battery"
            }
            if policy.onlyWhenIdle && !context.idle { return "the profile trains only when idle; the inference service is busy" }
        }
        guard context.installedVersion != nil else { return "model '\(task.modelName)' is not installed" }
        return nil
    }

    /// Why the data does not allow the task, or nil.
    static func checkData(_ task: FLTask, examples: Int, layoutDigest: String) -> String? {
        if layoutDigest != task.layoutDigest {
            return
                "the installed model's parameter layout \(layoutDigest.prefix(12)) is not the task's \(task.layoutDigest.prefix(12))"
        }
        if examples < task.minExamples { return "\(examples) labelled examples; the task needs \(task.minExamples)" }
        return nil
    }

    /// The training time allowed, in seconds: the task's limit within the profile's.
    static func budgetSeconds(_ task: FLTask, policy: FirmwareProfile.TrainingPolicy) -> Double {
        Double(min(task.maxTrainingSeconds ?? policy.maxSeconds, policy.maxSeconds))
    }

    /// Local epochs to run so that the estimated time stays within `budget` (with a fifth kept
    /// in reserve for evaluation, encoding and the estimate's error); nil when not even one fits.
    static func epochs(requested: Int, secondsPerEpoch: Double, budget: Double) -> Int? {
        guard secondsPerEpoch > 0 else { return requested }
        let fit = Int((budget * 0.8 / secondsPerEpoch).rounded(.down))
        guard fit >= 1 else { return nil }
        return min(requested, fit)
    }

    /// When local training must stop (enforced by `Trainer.fit` between epochs): nine tenths of
    /// the budget, or of the time left before the task's deadline if that is shorter, the last
    /// tenth kept for evaluation, clipping, encoding and signing. Nil for `evaluate` tasks
    /// (budget 0), which do not train.
    static func trainingDeadline(
        from start: ContinuousClock.Instant, budget: Double, untilTaskDeadline: Double
    ) -> ContinuousClock.Instant? {
        guard budget > 0 else { return nil }
        return start + .seconds(max(0, min(budget, untilTaskDeadline)) * 0.9)
    }

    /// Bytes training needs beyond the served model: the feeds, and the parameters several
    /// times over (the global copy, the trained copy, gradients, optimizer moments, delta).
    static func memoryBytes(feeds: [String: Tensor], parameters: Int) -> Int {
        let feedScalars = feeds.values.reduce(0) { $0 + $1.scalars.count }
        return 4 * feedScalars + 4 * parameters * 7
    }
}
