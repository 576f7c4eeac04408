import AgentCoreModel

/// What an agent type registers: the fields of `definition.register` (contract v1).
public struct AgentDefinition: Sendable, Equatable {
    public var slug: String
    public var name: String
    public var agentType: String
    public var description: String?
    public var capabilities: [String]
    /// The subset of JSON Schema agentcore checks configs against (`docs/guarantees.md`).
    public var configSchema: JSONValue

    public init(
        slug: String,
        name: String,
        agentType: String,
        description: String? = nil,
        capabilities: [String] = [],
        configSchema: JSONValue = [:]
    ) {
        self.slug = slug
        self.name = name
        self.agentType = agentType
        self.description = description
        self.capabilities = capabilities
        self.configSchema = configSchema
    }
}

/// An agent type (the seed's `BaseAgent`). The host makes one value per instance with
/// `init(handle:)` and calls its hooks one at a time (never two hooks of one instance at
/// once), so an `actor` or a class with no other callers needs no further locking.
///
/// Lifecycle, as the host drives it and the cluster records it:
///
///     spawn or adopt → initializing → initialize(config) → activate() → active
///     operator → idle: deactivate()          operator → active: activate()
///     operator instance.configure: configure(mergedConfig)
///     SIGTERM: deactivate() (if active), shutdown() → offline
///
/// A hook that throws moves the instance to `error`, its message recorded as the
/// instance's `last_error`; the host keeps serving its other instances. Every hook has a
/// default that does nothing.
public protocol Agent: Sendable {
    static var definition: AgentDefinition { get }
    init(handle: AgentHandle)
    /// Prepare with the instance's config (already checked against `configSchema`).
    func initialize(config: JSONValue) async throws
    /// Start work: messages are delivered only while active.
    func activate() async throws
    /// Stop work; `activate` may follow.
    func deactivate() async throws
    /// The host is stopping this instance; release what it holds.
    func shutdown() async throws
    /// An operator's `instance.configure` was accepted: `config` is the merged result.
    func configure(_ config: JSONValue) async throws
    /// A message delivered to this instance: once per message per host lifetime, in the
    /// order the cluster numbered them (`message.seq`).
    func receive(_ message: AgentMessage) async throws
}

extension Agent {
    public func initialize(config: JSONValue) async throws {}
    public func activate() async throws {}
    public func deactivate() async throws {}
    public func shutdown() async throws {}
    public func configure(_ config: JSONValue) async throws {}
    public func receive(_ message: AgentMessage) async throws {}
}

/// A message delivered to an instance (an `agent.message_delivered` event).
public struct AgentMessage: Sendable, Equatable {
    /// The delivery event's id: the same for every copy of this delivery.
    public var eventId: String
    /// The `agent.message` command's id.
    public var messageId: String
    /// Position in the target's mailbox: 1, 2, 3, ... with no gap.
    public var seq: Int64
    public var fromInstance: String
    public var fromProject: String
    public var toInstance: String
    public var toProject: String
    public var workspace: String
    public var correlationId: String?
    public var body: JSONValue

    init?(_ event: Event) {
        let p = event.payload
        guard event.type == .agentMessageDelivered, let messageId = p["message_id"]?.stringValue,
            let seq = p["seq"]?.intValue, let from = p["from_instance_id"]?.stringValue,
            let fromProject = p["from_project_id"]?.stringValue, let to = p["to_instance_id"]?.stringValue,
            let toProject = p["to_project_id"]?.stringValue
        else { return nil }
        self.eventId = event.id
        self.messageId = messageId
        self.seq = seq
        self.fromInstance = from
        self.fromProject = fromProject
        self.toInstance = to
        self.toProject = toProject
        self.workspace = event.workspaceId
        self.correlationId = event.correlationId
        self.body = p["body"] ?? .null
    }
}

/// The cluster refused a command an agent sent (a `command.rejected` event).
public struct AgentCommandRejected: Error, Sendable, CustomStringConvertible {
    public var code: String
    public var message: String
    public var field: String?
    public var commandType: String

    public var description: String { "\(commandType) rejected: \(code)\(field.map { " at \($0)" } ?? ""): \(message)" }
}
