/// The life of one sync session as pure transitions: what to do when it starts, when the
/// transport connects or drops, when a telemetry tick comes, and when it stops.
///
/// `AgentSession` feeds it events and performs the returned actions; it has no effects itself.
public struct SessionStateMachine: Sendable, Equatable {
    /// Where the session is.
    public enum State: Sendable, Equatable {
        /// Made, not started.
        case idle
        /// Started, waiting for the first connection.
        case connecting
        /// Connected: status announced, telemetry sent.
        case online
        /// The connection dropped; the transport is reconnecting by itself.
        case offline
        /// Stopping: announcing offline and closing.
        case stopping
        /// Closed for good.
        case stopped
    }

    /// What happened.
    public enum Event: Sendable, Equatable {
        /// `start()` was called.
        case start
        /// The transport reports a session with the broker.
        case connected
        /// The transport reports a lost connection.
        case disconnected
        /// A telemetry interval ended.
        case tick
        /// `stop()` was called.
        case stop
        /// The transport's streams ended (closed by us or for good).
        case closed
    }

    /// What the session does in response.
    public enum Action: Sendable, Equatable {
        /// Nothing.
        case none
        /// Subscribe and connect, start the loops.
        case connect
        /// Publish the retained `online` status and wake the outbox drainer.
        case announceOnline
        /// Build telemetry for the window that ends now and publish it.
        case sendTelemetry
        /// Keep counting: the window grows until the session is online again.
        case holdTelemetry
        /// Stop the loops, publish the retained `offline` status (bounded wait), close.
        case announceOfflineAndClose
        /// Close without announcing (nothing was ever connected).
        case close
        /// Refuse: the call is not valid now.
        case refuse
    }

    /// The current state.
    public private(set) var state: State = .idle

    /// A machine in `idle`.
    public init() {}

    /// Applies `event` and returns what to do.
    public mutating func handle(_ event: Event) -> Action {
        switch (state, event) {
        case (.idle, .start):
            state = .connecting
            return .connect
        case (.idle, .stop):
            state = .stopped
            return .close
        case (.idle, .connected), (.idle, .disconnected), (.idle, .tick):
            return .none
        case (.idle, .closed):
            state = .stopped
            return .none

        case (.connecting, .connected), (.offline, .connected), (.online, .connected):
            // Also online → online: a new session after a drop whose event was never seen.
            state = .online
            return .announceOnline
        case (.connecting, .disconnected):
            return .none
        case (.online, .disconnected), (.offline, .disconnected):
            state = .offline
            return .none
        case (.online, .tick):
            return .sendTelemetry
        case (.connecting, .tick), (.offline, .tick):
            return .holdTelemetry
        case (.connecting, .stop), (.online, .stop), (.offline, .stop):
            state = .stopping
            return .announceOfflineAndClose
        case (.connecting, .start), (.online, .start), (.offline, .start):
            return .refuse
        case (.connecting, .closed), (.online, .closed), (.offline, .closed):
            state = .stopped
            return .none

        case (.stopping, .closed):
            state = .stopped
            return .none
        case (.stopping, .start):
            return .refuse
        case (.stopping, .connected), (.stopping, .disconnected), (.stopping, .tick), (.stopping, .stop):
            return .none

        case (.stopped, .start):
            return .refuse
        case (.stopped, .connected), (.stopped, .disconnected), (.stopped, .tick), (.stopped, .stop),
            (.stopped, .closed):
            return .none
        }
    }
}
