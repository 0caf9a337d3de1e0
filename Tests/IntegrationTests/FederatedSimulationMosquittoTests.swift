import Core
import Foundation
import Testing

@testable import TransportMQTT

/// `FederatedSimulation` with every client and the server on their own session with real Mosquitto.
@Suite("Federated simulation on Mosquitto", .serialized)
struct FederatedSimulationMosquittoTests {
    /// Six clients of the digits split (copied into the project's data directory).
    static func simulation(_ configuration: SimulationConfiguration) throws -> FederatedSimulation {
        let root = AgentFixture.root
        let table = try CSV.parse(try FileIO.read(root + "/data/digits.csv"))
        let split = try DataSplit.read(path: root + "/data/digits_dirichlet05_20clients.json")
        var dataset = try FederatedSimulation.partition(
            try LabeledData(table, label: "label"), split: split, features: FeatureRecipe(scaling: .divide(16)))
        dataset.participants = Array(dataset.participants.prefix(6))
        let graph = try ModelBuilder.build(.mlp(hidden: [32]), inputShape: [64], outputs: 10, seed: 2)
        return try FederatedSimulation(
            graph: graph, participants: dataset.participants, test: dataset.test, configuration: configuration)
    }

    @Test("three int8 rounds over Mosquitto equal the in-process run; the bytes are counted as MQTT packets both ways")
    func overMosquitto() async throws {
        try await withBroker { broker in
            let sim = try Self.simulation(
                SimulationConfiguration(rounds: 3, upEncoding: .int8, downEncoding: .int8, byzantineFraction: 0.2))
            let local = try sim.run(strategy: FedMedian())
            let network = SimulationNetwork(name: "Mosquitto", timeout: .seconds(300)) { id throws(TransportError) in
                let transport: MQTTTransport
                do {
                    transport = try broker.transport(broker.clientConfiguration(id))
                } catch {
                    throw TransportError(.connectionFailed, "\(error)")
                }
                try await transport.connect()
                return transport
            }
            let networked = try await sim.run(strategy: FedMedian(), over: network)
            #expect(networked.parameters == local.parameters)
            for (wire, frames) in zip(networked.rounds, local.rounds) {
                #expect(wire.byzantine == frames.byzantine && wire.byzantine == 1)
                #expect(wire.testAccuracy == frames.testAccuracy)
                // 6 task and 6 update PUBLISHes plus their PUBACKs: MQTT framing of 5 to 80 bytes per message.
                #expect((frames.bytesDown + 30)...(frames.bytesDown + 480) ~= wire.bytesDown, "\(wire.bytesDown)")
                #expect((frames.bytesUp + 30)...(frames.bytesUp + 480) ~= wire.bytesUp, "\(wire.bytesUp)")
            }
        }
    }
}
