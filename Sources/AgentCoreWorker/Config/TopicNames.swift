import AgentCoreModel

/// Topic names derived from one prefix (default `agentcore`).
public struct TopicNames: Sendable, Equatable {
    public var prefix: String

    public init(prefix: String = "agentcore") { self.prefix = prefix }

    public var commands: String { "\(prefix).commands" }
    public var contextWrites: String { "\(prefix).context-writes" }
    public var status: String { "\(prefix).status" }
    public var heartbeats: String { "\(prefix).heartbeats" }
    public var dlq: String { "\(prefix).dlq" }
    /// Every store's changes (compacted; co-partitioned with the inputs): see docs/changelog.md.
    public var changelog: String { "\(prefix).changelog" }

    public var inputs: [String] { [commands, contextWrites] }
    public var outputs: [String] { [status, heartbeats, dlq] }

    public func input(_ stream: CommandStream) -> String { stream == .commands ? commands : contextWrites }

    public func stream(of topic: String) -> CommandStream? {
        topic == commands ? .commands : topic == contextWrites ? .contextWrites : nil
    }

    public func output(_ topic: OutputTopic) -> String {
        switch topic {
        case .status: return status
        case .heartbeats: return heartbeats
        case .dlq: return dlq
        }
    }

    /// The input topic a command type belongs on.
    public func topic(for type: CommandType) -> String { input(type.stream) }
}
