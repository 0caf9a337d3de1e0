import ArgumentParser
import Core
import Foundation
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `starling registry upload`: registers a version from a `.starling` model file, or an ONNX
/// file the hub imports (and quantizes).
struct RegistryUpload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upload",
        abstract: "Register a version: upload a .starling model file (or an ONNX file with --onnx); the hub signs its package.",
        discussion: "A registered version is immutable. Progress goes to standard error.")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The model's name (create it first: starling registry create).")
    var model: String
    @Argument(help: "The version to register (MAJOR.MINOR.PATCH, e.g. 1.2.0).")
    var version: String
    @Argument(help: "The model file: .starling, or .onnx with --onnx.")
    var file: String
    @Option(help: "The version of the same model this one derives from.")
    var parent: String?
    @Option(help: "The training run that produced it.")
    var trainingRun: String?
    @Option(help: "The federated round that produced it.")
    var federatedRound: String?
    @Option(help: "Where it was imported from.")
    var importSource: String?
    @Option(help: "SHA-256 (hex) of a data set it was trained or calibrated on; repeat for several.")
    var dataDigest: [String] = []
    @Option(help: "Metadata as a JSON object, e.g. '{\"accuracy\": 0.97}'.")
    var metadata: String?
    @Flag(help: "The file is ONNX: the hub imports it.")
    var onnx = false
    @Flag(help: "With --onnx: the hub quantizes the import to int8.")
    var quantize = false
    @Option(help: "With --quantize: the calibration data set (by name on the hub).")
    var calibration: String?

    func validate() throws {
        if quantize && !onnx { throw ValidationError("--quantize needs --onnx") }
        if calibration != nil && !quantize { throw ValidationError("--calibration needs --quantize") }
        if let metadata { _ = try parsedMetadata(metadata) }
    }

    private func parsedMetadata(_ text: String) throws(ValidationError) -> JSONValue {
        guard let value = try? JSONValue.parse(Array(text.utf8)), case .object = value else {
            throw ValidationError("--metadata must be a JSON object, e.g. '{\"accuracy\": 0.97}'")
        }
        return value
    }

    /// The query: version, lineage, format.
    var query: [(String, String)] {
        var query = [("version", version)]
        if let parent { query.append(("parent", parent)) }
        if let trainingRun { query.append(("trainingRun", trainingRun)) }
        if let federatedRound { query.append(("federatedRound", federatedRound)) }
        if let importSource { query.append(("importSource", importSource)) }
        query += dataDigest.map { ("dataDigest", $0) }
        if onnx { query.append(("format", "onnx")) }
        if quantize { query.append(("quantize", "int8")) }
        if let calibration { query.append(("calibration", calibration)) }
        return query
    }

    func run() async throws {
        try await hub.run { client in
            guard FileIO.exists(file), !FileIO.isDirectory(file), let size = try? FileIO.size(file) else {
                throw HubError(.local, "cannot read '\(file)'")
            }
            var request = HubRequest("POST", ["models", model, "versions"], query: query, body: .file(file))
            if let metadata { request.headers["Starling-Metadata"] = try parsedMetadata(metadata).compactASCII }
            let progress = UploadProgress(name: file, total: Int64(size))
            let response = try await client.send(request, progress: progress)
            progress.finish()
            let value = try response.json()
            try hub.show(value) {
                let v = try value.decode(VersionRecord.self)
                return "Registered \(v.model) \(v.version): package \(v.packageId.prefix(16)) "
                    + "(\(Output.bytes(v.package.size))), signed by key \(v.signingKeyId)."
            }
        }
    }
}

/// Upload progress on standard error: a line each quarter, or one updated line on a terminal.
final class UploadProgress: NSObject, URLSessionTaskDelegate, Sendable {
    private let name: String
    private let total: Int64
    private let interactive = isatty(2) == 1
    /// The last step reported (percent on a terminal, quarters otherwise).
    private let reported = Mutex(-1)

    init(name: String, total: Int64) {
        self.name = name
        self.total = max(total, 1)
    }

    func urlSession(
        _ session: URLSession, task: URLSessionTask, didSendBodyData bytesSent: Int64, totalBytesSent: Int64,
        totalBytesExpectedToSend: Int64
    ) {
        report(sent: totalBytesSent)
    }

    /// Reports everything sent (some transports never call back).
    func finish() { report(sent: total) }

    private func report(sent: Int64) {
        let percent = Int(min(sent, total) * 100 / total)
        let step = interactive ? percent : percent / 25
        let isNew = reported.withLock { last in
            guard step > last else { return false }
            last = step
            return true
        }
        guard isNew else { return }
        let text = "uploading \(name): \(Output.bytes(Int(min(sent, total)))) of \(Output.bytes(Int(total))) (\(percent)%)"
        FileHandle.standardError.write(Data((interactive ? "\r" + text + (percent == 100 ? "\n" : "") : text + "\n").utf8))
    }
}
