import AgentCoreModel

/// What one `apply` did.
public struct ApplySummary: Sendable, Equatable {
    /// Records applied with their result events (including idempotent re-answers).
    public var applied = 0
    /// Records answered with `command.rejected`.
    public var rejected = 0
    /// Records sent to the dead-letter topic.
    public var deadLettered = 0
    /// Records skipped because the store had applied them already.
    public var skipped = 0
    /// Events and dead letters written to the outbox.
    public var outputs = 0

    public init() {}
}

/// One record to publish on an output topic.
public struct OutboxRecord: Sendable, Equatable {
    /// The `results` row it belongs to (one row may hold several records).
    public var seq: Int64
    public var topic: OutputTopic
    public var key: [UInt8]?
    public var value: [UInt8]
    public var eventId: String
}

/// An output built while applying one record.
struct Outgoing: Sendable {
    var topic: OutputTopic
    /// The record key: the workspace id for events, the original key for dead letters.
    var key: [UInt8]?
    var body: Body
    var eventId: String

    /// The canonical JSON, or the parts of an event to be serialised later (off the
    /// applying thread, see `ResultRenderer`); both give the same bytes.
    enum Body: Sendable {
        case json([UInt8])
        case event(EventParts)
    }

    init(topic: OutputTopic, key: [UInt8]?, value: [UInt8], eventId: String) {
        self.init(topic: topic, key: key, body: .json(value), eventId: eventId)
    }

    init(topic: OutputTopic, key: [UInt8]?, body: Body, eventId: String) {
        self.topic = topic
        self.key = key
        self.body = body
        self.eventId = eventId
    }

    /// Canonical JSON of the event or dead letter.
    var value: [UInt8] {
        switch body {
        case .json(let bytes): return bytes
        case .event(let e): return e.encode()
        }
    }
}

/// Everything `Event.encode` needs.
struct EventParts: Sendable {
    var id: String
    var type: EventType
    var commandId: String?
    var workspaceId: String
    var projectId: String?
    var correlationId: String?
    var occurredAtMillis: Int64
    var payload: [(String, JSONValue)]

    func encode() -> [UInt8] {
        Event.encode(
            id: id, type: type, commandId: commandId, workspaceId: workspaceId, projectId: projectId,
            correlationId: correlationId, occurredAtMillis: occurredAtMillis, payload: payload)
    }
}
