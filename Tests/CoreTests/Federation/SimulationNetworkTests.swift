import Core
import Testing

@Suite("Federated simulation over a broker")
struct SimulationNetworkTests {
    func simulation(_ configuration: SimulationConfiguration, clients: Int = 4) throws -> FederatedSimulation {
        let dataset = try FederationFixtures.digits(clients: clients)
        let graph = try ModelBuilder.build(.mlp(hidden: [16]), inputShape: [64], outputs: 10, seed: 1)
        return try FederatedSimulation(
            graph: graph, participants: dataset.participants, test: dataset.test, configuration: configuration)
    }

    @Test("MQTT packet sizes: fixed header, remaining length, topic, packet id, property length, payload")
    func packetSizes() {
        // 2 + 3 (topic) + 2 (id) + 1 (properties) + 100 = 108 → one length byte.
        #expect(MQTTPacketSize.publish(topic: "a/b", payloadCount: 100, qos: .atLeastOnce) == 1 + 1 + 108)
        // 2 + 3 + 1 + 200 = 206 → two length bytes; QoS 0 has no packet id.
        #expect(MQTTPacketSize.publish(topic: "a/b", payloadCount: 200, qos: .atMostOnce) == 1 + 2 + 206)
        #expect(MQTTPacketSize.publish(topic: "t", payloadCount: 2_097_152, qos: .atLeastOnce) == 1 + 4 + 2_097_152 + 6)
    }

    @Test("a counting transport counts both ways, with the acknowledgements of QoS 1")
    func counting() async throws {
        let broker = InMemoryBroker()
        let a = CountingTransport(InMemoryTransport(broker: broker, clientID: "a", options: .init(cleanStart: true)))
        let b = CountingTransport(InMemoryTransport(broker: broker, clientID: "b", options: .init(cleanStart: true)))
        try await a.connect()
        try await b.connect()
        try await b.subscribe("t/#", qos: .atLeastOnce)
        try await a.publish(Message(topic: "t/x", payload: Array(repeating: 1, count: 300), qos: .atLeastOnce))
        var messages = b.messages.makeAsyncIterator()
        let got = await messages.next()
        #expect(got?.payload.count == 300)
        let packet = MQTTPacketSize.publish(topic: "t/x", payloadCount: 300, qos: .atLeastOnce)
        #expect(a.count.bytesSent == packet && a.count.bytesReceived == MQTTPacketSize.puback)
        #expect(b.count.bytesReceived == packet && b.count.bytesSent == MQTTPacketSize.puback)
        #expect(a.count.payloadSent == 300 && b.count.payloadReceived == 300)
        #expect(a.count.messagesSent == 1 && b.count.messagesReceived == 1)
        await a.close()
        await b.close()
    }

    @Test(
        "over the in-memory broker the run equals the in-process one; the bytes are the frames plus MQTT framing",
        arguments: [
            SimulationConfiguration(rounds: 3, learningRate: 0.3),
            SimulationConfiguration(rounds: 3, fraction: 0.5, upEncoding: .topK(fraction: 0.2), downEncoding: .int8),
        ])
    func equalsInProcess(configuration: SimulationConfiguration) async throws {
        let sim = try simulation(configuration)
        let local = try sim.run(strategy: FedAvg())
        let networked = try await sim.run(strategy: FedAvg(), over: .inMemory(timeout: .seconds(300)))
        #expect(networked.parameters == local.parameters)
        #expect(networked.rounds.map(\.testAccuracy) == local.rounds.map(\.testAccuracy))
        for (net, frames) in zip(networked.rounds, local.rounds) {
            #expect(net.clients == frames.clients)
            // Each selected device receives one task PUBLISH and one PUBACK for its update, and
            // sends one update PUBLISH and one PUBACK for its task: framing of 5 to 80 bytes each way.
            for (wire, payload) in [(net.bytesDown, frames.bytesDown), (net.bytesUp, frames.bytesUp)] {
                #expect(wire > payload + 5 * net.clients && wire < payload + 80 * net.clients, "\(wire) vs \(payload)")
            }
        }
    }

    @Test("a client whose training fails ends the run with its reason, without waiting for the timeout")
    func clientFailure() async throws {
        // A learning rate this large makes every client's loss overflow in the first epoch.
        let sim = try simulation(SimulationConfiguration(rounds: 2, learningRate: 1e30))
        do {
            _ = try await sim.run(strategy: FedAvg(), over: .inMemory(timeout: .seconds(3600)))
            Issue.record("the run succeeded")
        } catch {
            // A timeout would be `.network` ("no update from ..."), not the client's reason.
            #expect(error.code == .training)
            #expect(error.message.contains("client-") && error.message.contains("diverged"), "\(error.message)")
        }
    }

    @Test("a broker that refuses a device's session fails the run, naming the device")
    func connectFailure() async throws {
        let sim = try simulation(SimulationConfiguration(rounds: 1))
        let broker = InMemoryBroker()
        let refusing = SimulationNetwork(name: "refusing broker", timeout: .seconds(300)) { id throws(TransportError) in
            if id == "client-2" { throw TransportError(.notAuthorized, "not authorised") }
            let transport = InMemoryTransport(broker: broker, clientID: id, options: .init(cleanStart: true))
            try await transport.connect()
            return transport
        }
        do {
            _ = try await sim.run(strategy: FedAvg(), over: refusing)
            Issue.record("the run succeeded")
        } catch {
            #expect(error.code == .network)
            #expect(error.message.contains("client-2") && error.message.contains("not authorised"), "\(error.message)")
        }
    }
}
