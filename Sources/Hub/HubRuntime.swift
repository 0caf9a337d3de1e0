import Core
import Logging
import TransportMQTT

/// `starling-hub serve`: the REST API, and with a broker configured, the hub's MQTT session
/// feeding the fleet monitor, the chunk server and the rollout runner.
///
/// One transport serves every part: a dispatcher reads its messages once and hands each topic
/// kind to its consumer through a buffer of its own, so a burst of telemetry never holds back a
/// device's fetch request. Start-up order: the broker files are rendered from the store (so a
/// broker started after the hub finds them), the session connects (retrying in the background if
/// the broker is not up yet), the live status is restored, subscriptions are made (and made again
/// after a reconnect that resumed the session, for Mosquitto 2.0's shared subscriptions), then
/// the API listens and active rollouts resume.
public enum HubRuntime {
    /// Runs until SIGINT or SIGTERM; `onListening` gets the API's port.
    public static func serve(
        _ configuration: HubConfiguration, logger: Logger = Logger(label: "starling.hub"),
        onListening: @escaping @Sendable (Int) async -> Void = { _ in },
        onNote: @escaping @Sendable (String) -> Void = { _ in }
    ) async throws {
        let transport = try makeTransport(configuration)
        let services = try await HubServices.open(configuration, transport: transport)
        defer { services.close() }
        do {
            try await services.fleet.syncBroker(by: .localCommandLine)
        } catch let error as FleetError where error.code == .brokerReloadFailed {
            // The files are written; a broker started later reads them.
            onNote("broker files written; the broker was not reloaded (\(error.message))")
        }
        try await services.monitor.restore()
        let messaging: [Task<Void, Never>]
        if let transport, let mqtt = configuration.mqtt {
            do {
                try await transport.connect()
                onNote("connected to the broker at \(mqtt.host):\(mqtt.port)")
            } catch {
                onNote("the broker at \(mqtt.host):\(mqtt.port) is not reachable yet (\(error)); retrying in the background")
            }
            messaging = try await startMessaging(services, transport: transport, onNote: onNote)
        } else {
            messaging = []
        }
        let rollouts = services.rollouts
        let rounds = services.rounds
        let tasks = messaging + [Task { await rollouts.run() }, Task { await rounds.run() }]
        do {
            try await HubAPI.serve(services: services, logger: logger, onListening: onListening)
        } catch {
            await stop(tasks, transport: transport, monitor: services.monitor)
            throw error
        }
        await stop(tasks, transport: transport, monitor: services.monitor)
    }

    private static func stop(_ tasks: [Task<Void, Never>], transport: MQTTTransport?, monitor: FleetMonitor) async {
        for task in tasks { task.cancel() }
        if let transport { await transport.close() }
        // The live status written behind: what arrived since the last flush.
        await monitor.flush()
    }

    /// The hub's transport, not yet connected; nil without `mqtt`.
    static func makeTransport(_ configuration: HubConfiguration) throws -> MQTTTransport? {
        guard let mqtt = configuration.mqtt else { return nil }
        let files = configuration.fleet.files
        return try MQTTTransport(
            configuration: MQTTTransport.Configuration(
                host: mqtt.host, port: mqtt.port, clientID: mqtt.clientID, tls: mqtt.caFile.map { .init(caFile: $0) },
                username: files.hubUser, password: try FleetService.hubPassword(path: files.hubPasswordFile),
                keepAlive: mqtt.keepAlive, inFlightWindow: 200, receiveMaximum: 1000))
    }

    /// Subscribes and starts the dispatcher, the monitor and the chunk server.
    static func startMessaging(
        _ services: HubServices, transport: any MessageTransport, onNote: @escaping @Sendable (String) -> Void
    ) async throws -> [Task<Void, Never>] {
        guard let server = services.chunkServer else { return [] }
        let filters = FleetMonitor.filters + [server.configuration.filter, Self.updateFilter]
        await subscribe(filters, transport: transport, onNote: onNote)
        let (fleetMessages, fleetSink) = AsyncStream.makeStream(of: Message.self)
        let (fetchMessages, fetchSink) = AsyncStream.makeStream(of: Message.self)
        let (updateMessages, updateSink) = AsyncStream.makeStream(of: Message.self)
        let rounds = services.rounds
        let messages = transport.messages
        let events = transport.events
        let monitor = services.monitor
        return [
            Task {
                for await message in messages {
                    switch try? Topic(parsing: message.topic) {
                    case .fetch?: fetchSink.yield(message)
                    case .flUpdate?: updateSink.yield(message)
                    case .events?:
                        updateSink.yield(message)
                        fleetSink.yield(message)
                    default: fleetSink.yield(message)
                    }
                }
                fleetSink.finish()
                fetchSink.finish()
                updateSink.finish()
            },
            Task {
                for await message in updateMessages {
                    if case .events? = try? Topic(parsing: message.topic) {
                        await rounds.handleEvent(message)
                    } else {
                        await rounds.handle(message)
                    }
                }
            },
            Task {
                for await message in fleetMessages { await monitor.handle(message) }
            },
            Task { await monitor.flushPeriodically() },
            Task { await server.serve(fetchMessages) },
            Task {
                for await event in events {
                    switch event {
                    case .connected(let resumed):
                        onNote("broker session up (resumed: \(resumed))")
                        if resumed { await subscribe(filters, transport: transport, onNote: onNote) }
                    case .disconnected(let reason):
                        onNote("broker connection lost: \(reason)")
                    }
                }
            },
        ]
    }

    /// Every device's federated updates.
    static let updateFilter = "\(Topic.root)/devices/+/fl/update"

    private static func subscribe(
        _ filters: [String], transport: any MessageTransport, onNote: @Sendable (String) -> Void
    ) async {
        for filter in filters {
            do {
                try await transport.subscribe(filter, qos: .atLeastOnce)
            } catch {
                onNote("cannot subscribe to \(filter): \(error)")
            }
        }
    }
}
