/// The command types of wire contract v1.
public enum CommandType: String, Sendable, CaseIterable, Codable {
    case definitionRegister = "definition.register"
    case definitionUpdate = "definition.update"
    case definitionDisable = "definition.disable"
    case instanceSpawn = "instance.spawn"
    case instanceTransition = "instance.transition"
    case instanceHeartbeat = "instance.heartbeat"
    case instanceConfigure = "instance.configure"
    case instanceRemove = "instance.remove"
    case contextWrite = "context.write"
    case contextRollback = "context.rollback"
    case agentMessage = "agent.message"

    /// Which input stream carries this type.
    public var stream: CommandStream {
        switch self {
        case .contextWrite, .contextRollback: return .contextWrites
        default: return .commands
        }
    }

    public var isDefinitionCommand: Bool {
        self == .definitionRegister || self == .definitionUpdate || self == .definitionDisable
    }
}

/// The two co-partitioned input topics.
public enum CommandStream: String, Sendable, CaseIterable {
    /// `<prefix>.commands`: definitions and instance lifecycle.
    case commands
    /// `<prefix>.context-writes`: context writes and rollbacks.
    case contextWrites = "context-writes"

    /// Order of the streams when records tie on timestamp.
    public var rank: Int { self == .commands ? 0 : 1 }
}

/// The fields of a definition, as registered or updated. Nil means "not given".
public struct DefinitionFields: Sendable, Equatable {
    public var slug: String
    public var name: String?
    public var agentType: String?
    public var description: String?
    public var capabilities: [String]?
    public var configSchema: JSONValue?
    public var metadata: JSONValue?
    public var enabled: Bool?

    public init(
        slug: String,
        name: String? = nil,
        agentType: String? = nil,
        description: String? = nil,
        capabilities: [String]? = nil,
        configSchema: JSONValue? = nil,
        metadata: JSONValue? = nil,
        enabled: Bool? = nil
    ) {
        self.slug = slug
        self.name = name
        self.agentType = agentType
        self.description = description
        self.capabilities = capabilities
        self.configSchema = configSchema
        self.metadata = metadata
        self.enabled = enabled
    }
}

/// A decoded, field-validated command payload.
public enum Command: Sendable, Equatable {
    case definitionRegister(DefinitionFields)
    case definitionUpdate(DefinitionFields)
    case definitionDisable(slug: String)
    case instanceSpawn(definition: String, name: String, instanceId: String?, config: JSONValue, state: JSONValue?)
    case instanceTransition(instanceId: String, to: InstanceStatus, reason: String?, error: String?)
    case instanceHeartbeat(instanceId: String, state: JSONValue?)
    case instanceConfigure(instanceId: String, config: [String: JSONValue])
    case instanceRemove(instanceId: String)
    case contextWrite(
        instanceId: String,
        name: String,
        data: ContextData,
        description: String?,
        mode: WriteMode,
        expectedVersion: Int64?
    )
    case contextRollback(instanceId: String, name: String, targetVersion: Int64, description: String?)
    /// A message from one instance (in the envelope's project) to another of the same
    /// workspace (in `toProject`, the envelope's project when nil).
    case agentMessage(from: String, to: String, toProject: String?, body: JSONValue)
}

/// The command envelope, `agentcore.command/v1`.
public struct CommandEnvelope: Sendable, Equatable {
    public static let schema = "agentcore.command/v1"

    public var id: String
    public var type: String
    public var workspaceId: String
    public var projectId: String?
    public var actor: String
    public var correlationId: String?
    public var payload: JSONValue

    public init(
        id: String,
        type: String,
        workspaceId: String,
        projectId: String?,
        actor: String,
        correlationId: String? = nil,
        payload: JSONValue
    ) {
        self.id = id
        self.type = type
        self.workspaceId = workspaceId
        self.projectId = projectId
        self.actor = actor
        self.correlationId = correlationId
        self.payload = payload
    }

    /// The envelope as JSON, ready to produce (canonical form).
    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "schema": .string(Self.schema), "id": .string(id), "type": .string(type),
            "workspace_id": .string(workspaceId), "actor": .string(actor), "payload": payload,
        ]
        if let projectId { o["project_id"] = .string(projectId) }
        if let correlationId { o["correlation_id"] = .string(correlationId) }
        return .object(o)
    }

    public var bytes: [UInt8] { json.canonicalBytes }
}
