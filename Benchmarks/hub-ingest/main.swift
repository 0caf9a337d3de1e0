// starling-hub-ingest-bench: the hub's telemetry ingest (issue 5). A real Mosquitto (generated
// configuration, raised queue limits), a real SQLite hub store with N enrolled devices, and
// FleetMonitor on an MQTTTransport, fed by P publisher processes at QoS 1; beside it in the same
// run, `mosquitto_sub -q 1` on the same telemetry filter, fed by the same publishers: the floor
// a bare subscriber reaches. Counts at both ends: publishers count PUBACKs, the hub counts what
// FleetMonitor received and applied (mosquitto_sub: lines), the broker its dropped messages.
// Prints one JSON line per side and a summary line with the ratio. See README.md.
import Core
import Foundation
import Hub
import TransportMQTT

struct Options {
    var devices = 1000
    var messages = 300_000
    var publishers = 4
    var window = 100
    var sides = ["hub", "mosquitto_sub"]
    var flushMilliseconds = 1000
    var receiveMaximum = 100
    var stallSeconds = 20
    var publisherArguments: [String]?

    init(_ arguments: [String]) {
        var rest = arguments.dropFirst()
        if rest.first == "publish" {
            publisherArguments = Array(rest.dropFirst())
            return
        }
        while let flag = rest.popFirst() {
            let value = rest.popFirst() ?? ""
            switch flag {
            case "--devices": devices = Int(value) ?? devices
            case "--messages": messages = Int(value) ?? messages
            case "--publishers": publishers = Int(value) ?? publishers
            case "--window": window = Int(value) ?? window
            case "--sides": sides = value.split(separator: ",").map(String.init)
            case "--flush-ms": flushMilliseconds = Int(value) ?? flushMilliseconds
            case "--receive-maximum": receiveMaximum = Int(value) ?? receiveMaximum
            case "--stall-seconds": stallSeconds = Int(value) ?? stallSeconds
            default:
                print("usage: starling-hub-ingest-bench [--devices N] [--messages M] [--publishers P] [--window W]")
                print("         [--sides hub,mosquitto_sub] [--flush-ms MS] [--receive-maximum R] [--stall-seconds S]")
                exit(2)
            }
        }
    }
}

// A child that exits early must not kill the benchmark through a write to its pipe.
signal(SIGPIPE, SIG_IGN)
let options = Options(CommandLine.arguments)
if let arguments = options.publisherArguments {
    let values = arguments.compactMap { Int($0) }
    guard values.count == 5 else {
        print("usage: starling-hub-ingest-bench publish PORT INDEX PUBLISHERS DEVICES WINDOW")
        exit(2)
    }
    try await Publisher(port: values[0], index: values[1], publishers: values[2], devices: values[3], window: values[4]).run()
    exit(0)
}

var benchmark = try await IngestBenchmark(options: options)
var results: [String: [String: Any]] = [:]
for side in options.sides {
    let result: [String: Any]
    switch side {
    case "hub": result = try await benchmark.measureHub()
    case "mosquitto_sub": result = try await benchmark.measureMosquittoSub()
    default: fatalError("unknown side \(side)")
    }
    results[side] = result
    IngestBenchmark.emit(result)
}
if let hub = results["hub"], let peer = results["mosquitto_sub"] {
    let hubRate = hub["received_per_s"] as! Double
    let peerRate = peer["received_per_s"] as! Double
    IngestBenchmark.emit([
        "section": "hub", "case": "ingest_summary", "devices": options.devices, "messages": options.messages,
        "publishers": options.publishers, "hub_per_s": hubRate, "mosquitto_sub_per_s": peerRate,
        "hub_over_peer": hubRate / peerRate, "order": options.sides.joined(separator: ","),
        "complete": (hub["complete"] as! Bool) && (peer["complete"] as! Bool),
    ])
}
benchmark.close()
