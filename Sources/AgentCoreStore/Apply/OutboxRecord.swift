import AgentCoreModel

/// One record to publish on an output topic.
public struct OutboxRecord: Sendable, Equatable {
    /// The `results` row it belongs to (one row may hold several records).
    public var seq: Int64
    public var topic: OutputTopic
    public var key: [UInt8]?
    public var value: [UInt8]
    public var eventId: String
}
