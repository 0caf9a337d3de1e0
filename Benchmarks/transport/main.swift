// starling-transport-bench: QoS 1 publish throughput through a local Mosquitto, Starling's
// MQTTTransport beside mosquitto_pub (and paho-mqtt, when a Python with it is given), in one run
// against one broker; with `--transfer-mb N`, a chunked package transfer instead
// (TransferBenchmark.swift). See README.md in this folder.
import Core
import Foundation
import TransportMQTT

struct Options {
    var messages = 100_000
    var payloadBytes = 64
    var windows = [100, 1000]
    var rounds = 3
    var pahoPython: String?
    var withSubscriber = false
    var transferMegabytes: Int?
    var window: Int?

    init(_ arguments: [String]) {
        var rest = arguments.dropFirst()
        while let flag = rest.popFirst() {
            let value = rest.popFirst() ?? ""
            switch flag {
            case "--messages": messages = Int(value) ?? messages
            case "--payload": payloadBytes = Int(value) ?? payloadBytes
            case "--windows": windows = value.split(separator: ",").compactMap { Int($0) }
            case "--rounds": rounds = Int(value) ?? rounds
            case "--paho-python": pahoPython = value
            case "--subscriber": withSubscriber = value == "on"
            case "--transfer-mb": transferMegabytes = Int(value)
            case "--window": window = Int(value)
            default:
                print("usage: starling-transport-bench [--messages N] [--payload BYTES] [--windows 100,1000] [--rounds R]")
                print("                                [--paho-python PATH] [--subscriber on|off]")
                print("       starling-transport-bench --transfer-mb MB [--rounds R] [--window CHUNKS]")
                exit(2)
            }
        }
    }
}

/// The best of `rounds` runs of `body`, as messages per second.
func best(_ rounds: Int, messages: Int, _ body: () async throws -> Void) async throws -> Double {
    var rates: [Double] = []
    for _ in 0..<rounds {
        let start = ContinuousClock.now
        try await body()
        let elapsed = ContinuousClock.now - start
        rates.append(Double(messages) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18))
    }
    return rates.max() ?? 0
}

/// Publishes `count` messages through `transport` from `lanes` tasks; the window paces them.
func publishAll(_ transport: MQTTTransport, count: Int, payload: [UInt8], lanes: Int) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for lane in 0..<lanes {
            group.addTask {
                var index = lane
                while index < count {
                    try await transport.publish(Message(topic: "bench/starling", payload: payload, qos: .atLeastOnce))
                    index += lanes
                }
            }
        }
        try await group.waitForAll()
    }
}

/// Runs a command with `input` as its standard input; returns when it exits.
func run(_ arguments: [String], input: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: input))
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw MosquittoError(.startFailed, "\(arguments[0]) exited with \(process.terminationStatus)")
    }
}

let options = Options(CommandLine.arguments)
if let megabytes = options.transferMegabytes {
    var transfer = TransferBenchmark(megabytes: megabytes, rounds: options.rounds)
    if let window = options.window { transfer.window = window }
    try await transfer.run()
    exit(0)
}
let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-transport-bench-\(getpid())").path
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: directory) }
let port = try MosquittoProcess.freePort()
let config = MosquittoConfiguration(
    listeners: [.loopback(port: port)], allowAnonymous: true, persistenceLocation: nil, logTypes: ["error"],
    user: ProcessInfo.processInfo.userName)
try config.render().write(toFile: "\(directory)/mosquitto.conf", atomically: true, encoding: .utf8)
let broker = try MosquittoProcess.start(configFile: "\(directory)/mosquitto.conf", port: port, logFile: "\(directory)/mosquitto.log")
defer { broker.stop() }

let payload = [UInt8](repeating: UInt8(ascii: "x"), count: options.payloadBytes)
let lines = "\(directory)/lines.txt"
try (String(repeating: String(repeating: "x", count: options.payloadBytes) + "\n", count: options.messages))
    .write(toFile: lines, atomically: true, encoding: .utf8)

var subscriber: MQTTTransport?
if options.withSubscriber {
    var subscriberConfig = MQTTTransport.Configuration(port: port, clientID: "bench-subscriber", cleanStart: true, sessionExpiry: .zero)
    subscriberConfig.receiveMaximum = 1000
    let transport = try MQTTTransport(configuration: subscriberConfig)
    try await transport.connect()
    try await transport.subscribe("bench/#", qos: .atLeastOnce)
    Task { for await _ in transport.messages {} }
    subscriber = transport
}

print("QoS 1 publish throughput through Mosquitto \(Mosquitto.libraryVersion) on 127.0.0.1")
print("\(options.messages) messages of \(options.payloadBytes) B, best of \(options.rounds); subscriber: \(options.withSubscriber ? "on" : "off")")
print("")
print("client                          window      msg/s   vs mosquitto_pub")
for window in options.windows {
    var clientConfig = MQTTTransport.Configuration(port: port, clientID: "bench-starling", cleanStart: true, sessionExpiry: .zero)
    clientConfig.inFlightWindow = window
    let transport = try MQTTTransport(configuration: clientConfig)
    try await transport.connect()
    let lanes = min(window * 2, 4096)
    let starling = try await best(options.rounds, messages: options.messages) {
        try await publishAll(transport, count: options.messages, payload: payload, lanes: lanes)
    }
    await transport.close()
    let peer = try await best(options.rounds, messages: options.messages) {
        try run(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", "\(port)", "-q", "1", "-V", "5", "-M", "\(window)", "--nodelay",
             "-t", "bench/mosquitto_pub", "-l"], input: lines)
    }
    var paho: Double?
    if let python = options.pahoPython {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("paho_pub.py").path
        paho = try await best(options.rounds, messages: options.messages) {
            try run([python, script, "127.0.0.1", "\(port)", "\(window)", "\(options.messages)", "\(options.payloadBytes)"], input: "/dev/null")
        }
    }
    func row(_ name: String, _ rate: Double) {
        let padded = name.padding(toLength: 30, withPad: " ", startingAt: 0)
        print("\(padded) \(String(format: "%6d %10.0f %10.2fx", window, rate, rate / peer))")
    }
    row("Starling MQTTTransport", starling)
    row("mosquitto_pub -l -q 1 -M \(window)", peer)
    if let paho { row("paho-mqtt (Python)", paho) }
}
await subscriber?.close()
