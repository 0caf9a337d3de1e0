import Core
import ONNXImport

extension RegistryService {
    /// How an imported ONNX model is quantized on the hub.
    public enum ImportQuantization: String, Sendable, CaseIterable {
        /// Kept in float.
        case none
        /// Weights int8 per channel; activation ranges calibrated on a dataset when one is
        /// given, else taken from each batch at run time.
        case dynamic
        /// The same as `dynamic` (what `starling registry upload --quantize` sends).
        case int8
    }

    /// An ONNX model converted to a Starling model file (and quantized as asked): what
    /// `POST .../versions?format=onnx` registers; `outputs` keeps only those graph outputs (and
    /// what they need), e.g. to leave out a classic-ML post-processing tail. Errors name the unsupported operator or field.
    /// With `calibration` (a table of model inputs, `ignoring` columns left out) the int8
    /// activations are static, calibrated on its first 1,000 rows.
    public func importONNX(
        _ bytes: [UInt8], model name: String, outputs: [String]? = nil, quantization: ImportQuantization,
        calibration: DataTable? = nil, ignoring: Set<String> = []
    ) throws(RegistryError) -> [UInt8] {
        do {
            var model = try ONNXImporter.importModel(bytes: bytes, name: name, outputs: outputs)
            if quantization != .none {
                var feeds: [String: Tensor]?
                if let calibration {
                    let rows = try calibration.selecting(rows: Array(0..<min(calibration.rowCount, 1000)))
                    feeds = try model.inputs(from: rows, ignoring: ignoring)
                }
                model = try Quantizer().quantize(model, calibrationFeeds: feeds)
            }
            return try ModelFile.encode(model)
        } catch {
            throw RegistryError(.packagingFailed, "the ONNX model cannot be imported: \(error.message)", underlying: error)
        }
    }
}
