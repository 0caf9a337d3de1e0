/// How activation ranges are chosen from calibration data.
public enum CalibrationMethod: Sendable, Equatable {
    /// The smallest and largest value seen.
    case minMax
    /// The `p`-th and (100 − p)-th percentiles (e.g. 99.99), which ignores rare outliers.
    case percentile(Float)

    /// Parses `minmax` or `percentile:P`.
    public init(parsing text: String) throws(ModelError) {
        if text == "minmax" {
            self = .minMax
        } else if text.hasPrefix("percentile:"), let p = Float(text.dropFirst(11)), p > 50, p <= 100 {
            self = .percentile(p)
        } else if text == "percentile" {
            self = .percentile(99.99)
        } else {
            throw ModelError(.invalidArgument, "unknown calibration '\(text)'; use minmax or percentile:P (50 < P <= 100)")
        }
    }
}
