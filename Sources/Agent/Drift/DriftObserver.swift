import Core

/// Watches what a served model computes: called once per batch, on the thread that ran it,
/// after the batch's results went out. Implementations must return quickly and never block.
public protocol DriftObserver: Sendable {
    /// Takes one batch: `feeds` are the graph inputs in program order (`rows` rows each, row
    /// after row), `outputs` the graph outputs with the batch as their first dimension.
    func observe(feeds: [[Float]], rows: Int, outputs: [Tensor])
}
