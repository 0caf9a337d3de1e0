import Core
import Foundation
import TransportMQTT

/// The devices' side: one MQTT session publishing telemetry at QoS 1 for its share of the fleet
/// (devices `index`, `index + publishers`, ...), round-robin, pipelined up to `window`.
///
/// Runs as a child process (`starling-hub-ingest-bench publish ...`) so that its CPU shows apart
/// from the hub's. It reads commands on standard input: `go N` publishes N more messages and
/// answers `done N SECONDS` once every PUBACK is in; `quit` closes the session.
struct Publisher {
    var port: Int
    var index: Int
    var publishers: Int
    var devices: Int
    var window: Int

    /// The device ids this publisher speaks for.
    var own: [String] { stride(from: index, to: devices, by: publishers).map(IngestBenchmark.deviceID) }

    func run() async throws {
        var configuration = MQTTTransport.Configuration(
            port: port, clientID: "bench-publisher-\(index)", cleanStart: true, sessionExpiry: .zero)
        configuration.inFlightWindow = window
        let transport = try MQTTTransport(configuration: configuration)
        try await transport.connect()
        let messages = try own.map { device in
            try (0..<4).map { variant in
                try Topic.telemetry(DeviceID(device)).message(IngestBenchmark.telemetry(device: device, variant: variant))
            }
        }
        FileHandle.standardOutput.write(Data("ready\n".utf8))
        var next = 0
        while let line = await Lines.standardInput() {
            let words = line.split(separator: " ")
            guard words.first == "go", words.count == 2, let count = Int(words[1]) else { break }
            let start = ContinuousClock.now
            try await publish(transport, messages, from: next, count: count)
            next += count
            FileHandle.standardOutput.write(Data("done \(count) \(IngestBenchmark.seconds(ContinuousClock.now - start))\n".utf8))
        }
        await transport.close()
    }

    /// Publishes messages `from ..< from + count` of the round-robin from `2 × window` tasks.
    private func publish(_ transport: MQTTTransport, _ messages: [[Message]], from: Int, count: Int) async throws {
        let lanes = min(2 * window, max(count, 1))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<lanes {
                group.addTask {
                    var position = lane
                    while position < count {
                        let sequence = from + position
                        let device = sequence % messages.count
                        try await transport.publish(messages[device][(sequence / messages.count) % 4])
                        position += lanes
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}

/// Blocking line reads, done on their own thread so the cooperative pool never waits on a pipe.
enum Lines {
    /// The next line of standard input, nil at its end.
    static func standardInput() async -> String? {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: readLine()) }.start()
        }
    }
}
