import Core
import ONNXImport

extension RegistryService {
    /// How an imported ONNX model is quantized on the hub.
    public enum ImportQuantization: String, Sendable, CaseIterable {
        /// Kept in float.
        case none
        /// Weights int8 per channel, activation ranges taken from each batch at run time (no
        /// calibration data needed).
        case dynamic
    }

    /// An ONNX model converted to a Starling model file (and quantized as asked): what
    /// `POST .../versions?format=onnx` registers; `outputs` keeps only those graph outputs (and
    /// what they need), e.g. to leave out a classic-ML post-processing tail. Errors name the unsupported operator or field.
    public func importONNX(
        _ bytes: [UInt8], model name: String, outputs: [String]? = nil, quantization: ImportQuantization
    ) throws(RegistryError) -> [UInt8] {
        do {
            var model = try ONNXImporter.importModel(bytes: bytes, name: name, outputs: outputs)
            if quantization == .dynamic { model = try Quantizer().quantize(model) }
            return try ModelFile.encode(model)
        } catch {
            throw RegistryError(.packagingFailed, "the ONNX model cannot be imported: \(error.message)", underlying: error)
        }
    }
}
