import Core
import Testing

@testable import TransportMQTT

#if canImport(Glibc)
import Glibc
#endif

/// A process holding many files (a simulated fleet, a busy hub) gets socket numbers past
/// select(2)'s FD_SETSIZE of 1024; the transport's loop must still work.
@Suite("MQTTTransport with many open files", .serialized)
struct MQTTDescriptorTests {
    @Test("sockets numbered past 1024 connect, publish and receive")
    func highDescriptors() async throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < 1500 && limit.rlim_max >= 1500 {
            limit.rlim_cur = 1500
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        // Hold descriptors until the next ones are numbered past 1024.
        var held: [Int32] = []
        while let last = held.last.map({ $0 }) ?? Optional(0), last < 1030 {
            let fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
            if fd < 0 { break }
            held.append(fd)
        }
        defer { for fd in held { close(fd) } }
        try #require((held.last ?? 0) >= 1030, "could not open enough files (limit \(limit.rlim_cur))")
        try await withBroker { broker in
            let a = try broker.transport(broker.clientConfiguration("high-a"))
            let b = try broker.transport(broker.clientConfiguration("high-b"))
            let inbox = Collector.draining(b.messages)
            try await a.connect()
            try await b.connect()
            try await b.subscribe("high/#", qos: .atLeastOnce)
            for index in 0..<50 {
                try await a.publish(Message(topic: "high/\(index)", payload: [UInt8(index)], qos: .atLeastOnce))
            }
            let got = try await inbox.take(50, MQTTTransportTests.harness)
            #expect(got.map(\.payload) == (0..<50).map { [UInt8($0)] })
            #expect(a.statistics.connections == 1 && b.statistics.connections == 1)
        }
    }
}
