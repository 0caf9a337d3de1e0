import Core

/// The session's background loops: connection events, inbound messages, telemetry ticks, the
/// outbox drainer and the first connection.
extension AgentSession {
    func startLoops() {
        let transport = self.transport
        let onMessage = self.onMessage
        let onConnection = self.onConnection
        let clock = self.clock
        let interval = configuration.telemetryInterval
        let retryDelay = configuration.connectRetryDelay
        let drainer = self.drainer
        loops.append(
            Task { [weak self] in
                for await event in transport.events {
                    await onConnection(event)
                    await self?.handle(event)
                }
                await self?.transportEnded()
            })
        loops.append(
            Task {
                for await message in transport.messages { await onMessage(message) }
            })
        producers.append(
            Task { [weak self] in
                while !Task.isCancelled {
                    do { try await clock.sleep(for: interval) } catch { return }
                    await self?.tick()
                }
            })
        producers.append(Task { await drainer.run(clock: clock) })
        producers.append(
            Task {
                // MQTTTransport keeps retrying by itself after a failed first attempt; calling
                // connect() again waits for its next attempt. InMemoryTransport needs the call.
                while !Task.isCancelled {
                    do throws(TransportError) {
                        try await transport.connect()
                        return
                    } catch {
                        if error.code == .closed { return }
                    }
                    do { try await clock.sleep(for: retryDelay) } catch { return }
                }
            })
    }

    func handle(_ event: TransportEvent) async {
        let action: SessionStateMachine.Action
        switch event {
        case .connected: action = machine.handle(.connected)
        case .disconnected: action = machine.handle(.disconnected)
        }
        await perform(action)
    }

    func tick() async {
        await perform(machine.handle(.tick))
    }

    func transportEnded() {
        _ = machine.handle(.closed)
    }

    private func perform(_ action: SessionStateMachine.Action) async {
        switch action {
        case .announceOnline:
            store.outboxSignal.notify()
            await announceOnline()
        case .sendTelemetry:
            await sendTelemetry()
        case .holdTelemetry, .none, .refuse, .connect, .announceOfflineAndClose, .close:
            break
        }
    }
}
