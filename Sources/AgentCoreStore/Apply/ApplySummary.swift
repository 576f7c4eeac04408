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
struct Outgoing {
    var topic: OutputTopic
    /// The record key: the workspace id for events, the original key for dead letters.
    var key: [UInt8]?
    /// Canonical JSON of the event or dead letter.
    var value: [UInt8]
    var eventId: String
}
