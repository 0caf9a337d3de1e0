import Testing

@testable import Agent

/// `SessionStateMachine`: every (state, event) pair, table-driven.
@Suite("Sync session state machine")
struct SyncStateMachineTests {
    typealias S = SessionStateMachine.State
    typealias E = SessionStateMachine.Event
    typealias A = SessionStateMachine.Action

    /// Events that lead from `idle` to each state.
    static let paths: [S: [E]] = [
        .idle: [], .connecting: [.start], .online: [.start, .connected], .offline: [.start, .connected, .disconnected],
        .stopping: [.start, .stop], .stopped: [.stop],
    ]

    static func machine(in state: S) -> SessionStateMachine {
        var machine = SessionStateMachine()
        for event in paths[state]! { _ = machine.handle(event) }
        return machine
    }

    static let table: [(S, E, S, A)] = [
        (.idle, .start, .connecting, .connect), (.idle, .stop, .stopped, .close), (.idle, .connected, .idle, .none),
        (.idle, .disconnected, .idle, .none), (.idle, .tick, .idle, .none), (.idle, .closed, .stopped, .none),
        (.connecting, .start, .connecting, .refuse), (.connecting, .connected, .online, .announceOnline),
        (.connecting, .disconnected, .connecting, .none), (.connecting, .tick, .connecting, .holdTelemetry),
        (.connecting, .stop, .stopping, .announceOfflineAndClose), (.connecting, .closed, .stopped, .none),
        (.online, .start, .online, .refuse), (.online, .connected, .online, .announceOnline),
        (.online, .disconnected, .offline, .none), (.online, .tick, .online, .sendTelemetry),
        (.online, .stop, .stopping, .announceOfflineAndClose), (.online, .closed, .stopped, .none),
        (.offline, .start, .offline, .refuse), (.offline, .connected, .online, .announceOnline),
        (.offline, .disconnected, .offline, .none), (.offline, .tick, .offline, .holdTelemetry),
        (.offline, .stop, .stopping, .announceOfflineAndClose), (.offline, .closed, .stopped, .none),
        (.stopping, .start, .stopping, .refuse), (.stopping, .connected, .stopping, .none),
        (.stopping, .disconnected, .stopping, .none), (.stopping, .tick, .stopping, .none),
        (.stopping, .stop, .stopping, .none), (.stopping, .closed, .stopped, .none),
        (.stopped, .start, .stopped, .refuse), (.stopped, .connected, .stopped, .none),
        (.stopped, .disconnected, .stopped, .none), (.stopped, .tick, .stopped, .none),
        (.stopped, .stop, .stopped, .none), (.stopped, .closed, .stopped, .none),
    ]

    @Test("the table covers all 36 (state, event) pairs")
    func complete() {
        #expect(Self.table.count == 36)
        #expect(Set(Self.table.map { "\($0.0)-\($0.1)" }).count == 36)
    }

    @Test("each transition", arguments: 0..<36)
    func transition(_ row: Int) {
        let (from, event, to, action) = Self.table[row]
        var machine = Self.machine(in: from)
        #expect(machine.state == from)
        #expect(machine.handle(event) == action, "\(from) + \(event)")
        #expect(machine.state == to, "\(from) + \(event)")
    }
}
