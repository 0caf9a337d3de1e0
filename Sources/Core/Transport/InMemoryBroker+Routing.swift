/// Routing: retained messages, matching subscriptions, shared subscriptions and delivery faults.
extension InMemoryBroker {
    /// Stores or clears the retained message, then delivers `message` to every matching session:
    /// once per session at the highest QoS of its matching ordinary subscriptions, and once per
    /// share group to one member of it.
    func route(_ message: Message) {
        if message.retain {
            retained[message.topic] = message.payload.isEmpty ? nil : message
        }
        // Retain As Published is off (MQTT 5 default): live deliveries carry retain = false.
        var live = message
        live.retain = false
        var shared: [String: [(clientID: String, qos: QoS)]] = [:]
        for clientID in sessions.keys.sorted() {
            var best: QoS?
            for (filter, qos) in sessions[clientID]!.subscriptions {
                let parts = TopicFilter.split(filter)
                guard TopicFilter.matchesValid(parts.filter, topic: message.topic) else { continue }
                if let group = parts.shareGroup {
                    shared[group + "\u{0}" + parts.filter, default: []].append((clientID, qos))
                } else {
                    best = Swift.max(best ?? qos, qos)
                }
            }
            if let best { deliver(live, qos: Swift.min(message.qos, best), to: clientID) }
        }
        for (share, members) in shared.sorted(by: { $0.key < $1.key }) {
            let online = members.filter { sessions[$0.clientID]?.owner != nil }
            let pool = online.isEmpty ? members : online
            let turn = shareCursor[share, default: 0]
            shareCursor[share] = turn &+ 1
            let member = pool[turn % pool.count]
            deliver(live, qos: Swift.min(message.qos, member.qos), to: member.clientID)
        }
    }

    /// Hands `message` to the session's connected transport, applying injected drops and
    /// duplicates, or queues it (QoS 1) while the client is away. QoS 0 is never queued.
    func deliver(_ message: Message, qos: QoS, to clientID: String) {
        guard let session = sessions[clientID] else { return }
        var message = message
        message.qos = qos
        guard let owner = session.owner, let client = clients[owner] else {
            if qos == .atLeastOnce { sessions[clientID]!.queue.append(message) }
            return
        }
        if dropBudget > 0 {
            dropBudget -= 1
            // Unacknowledged: the session sends it again when the client reconnects.
            if qos == .atLeastOnce { sessions[clientID]!.queue.append(message) }
            return
        }
        client.transport.messageSink.yield(message)
        if duplicateBudget > 0 {
            duplicateBudget -= 1
            client.transport.messageSink.yield(message)
        }
    }

    /// Adds a subscription to the session and, unless it is shared, sends the retained messages
    /// it matches (retain = true), in topic-name order.
    func applySubscription(_ filter: String, qos: QoS, clientID: String) {
        guard sessions[clientID] != nil else { return }
        sessions[clientID]!.subscriptions[filter] = qos
        let parts = TopicFilter.split(filter)
        guard parts.shareGroup == nil else { return }
        for topic in retained.keys.sorted() where TopicFilter.matchesValid(parts.filter, topic: topic) {
            let message = retained[topic]!
            deliver(message, qos: Swift.min(message.qos, qos), to: clientID)
        }
    }
}
