import CXNNPACK

/// One-time XNNPACK initialisation.
enum XNNPACK {
    static let isReady: Bool = xnn_initialize(nil) == xnn_status_success
}
