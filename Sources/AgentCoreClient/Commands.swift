import AgentCoreModel

/// Typed builders for every command of contract v1. Each returns a `CommandEnvelope` ready
/// for `AgentCoreProducer.enqueue`. `id` defaults to a new random id: pass your own to make
/// retries idempotent (a repeated id is answered again, not applied twice).
public struct Commands: Sendable {
    public var workspace: String
    public var project: String
    public var actor: String

    public init(workspace: String, project: String, actor: String) {
        self.workspace = workspace
        self.project = project
        self.actor = actor
    }

    func envelope(
        _ type: CommandType,
        _ payload: [String: JSONValue?],
        id: String?,
        project: String?,
        correlationId: String? = nil
    ) -> CommandEnvelope {
        var p: [String: JSONValue] = [:]
        for (k, v) in payload { if let v { p[k] = v } }
        return CommandEnvelope(
            id: id ?? Self.newId(),
            type: type.rawValue,
            workspaceId: workspace,
            projectId: project,
            actor: actor,
            correlationId: correlationId,
            payload: .object(p)
        )
    }

    public static func newId() -> String {
        "cmd-" + String(UInt64.random(in: 0...UInt64.max), radix: 36) + String(UInt64.random(in: 0...UInt64.max), radix: 36)
    }

    public func registerDefinition(
        slug: String,
        name: String,
        agentType: String,
        description: String? = nil,
        capabilities: [String] = [],
        configSchema: JSONValue = [:],
        metadata: JSONValue = [:],
        id: String? = nil
    ) -> CommandEnvelope {
        envelope(
            .definitionRegister,
            [
                "slug": .string(slug), "name": .string(name), "agent_type": .string(agentType),
                "description": description.map(JSONValue.string), "capabilities": .array(capabilities.map(JSONValue.string)),
                "config_schema": configSchema, "metadata": metadata,
            ],
            id: id,
            project: nil
        )
    }

    public func updateDefinition(slug: String, changes: [String: JSONValue], id: String? = nil) -> CommandEnvelope {
        var p: [String: JSONValue?] = ["slug": .string(slug)]
        for (k, v) in changes { p[k] = v }
        return envelope(.definitionUpdate, p, id: id, project: nil)
    }

    public func disableDefinition(slug: String, id: String? = nil) -> CommandEnvelope {
        envelope(.definitionDisable, ["slug": .string(slug)], id: id, project: nil)
    }

    public func spawn(
        definition: String,
        name: String,
        instanceId: String? = nil,
        config: JSONValue = [:],
        id: String? = nil
    ) -> CommandEnvelope {
        envelope(
            .instanceSpawn,
            ["definition": .string(definition), "name": .string(name), "instance_id": instanceId.map(JSONValue.string), "config": config],
            id: id,
            project: project
        )
    }

    public func transition(
        instanceId: String,
        to: InstanceStatus,
        reason: String? = nil,
        error: String? = nil,
        id: String? = nil
    ) -> CommandEnvelope {
        envelope(
            .instanceTransition,
            [
                "instance_id": .string(instanceId), "to": .string(to.rawValue), "reason": reason.map(JSONValue.string),
                "error": error.map(JSONValue.string),
            ],
            id: id,
            project: project
        )
    }

    public func heartbeat(instanceId: String, state: JSONValue? = nil, id: String? = nil) -> CommandEnvelope {
        envelope(.instanceHeartbeat, ["instance_id": .string(instanceId), "state": state], id: id, project: project)
    }

    public func configure(instanceId: String, config: [String: JSONValue], id: String? = nil) -> CommandEnvelope {
        envelope(.instanceConfigure, ["instance_id": .string(instanceId), "config": .object(config)], id: id, project: project)
    }

    public func remove(instanceId: String, id: String? = nil) -> CommandEnvelope {
        envelope(.instanceRemove, ["instance_id": .string(instanceId)], id: id, project: project)
    }

    public func writeContext(
        instanceId: String,
        name: String,
        data: JSONValue,
        mode: WriteMode = .replace,
        description: String? = nil,
        expectedVersion: Int64? = nil,
        id: String? = nil
    ) -> CommandEnvelope {
        envelope(
            .contextWrite,
            [
                "instance_id": .string(instanceId), "name": .string(name), "data": data, "mode": .string(mode.rawValue),
                "description": description.map(JSONValue.string), "expected_version": expectedVersion.map(JSONValue.int),
            ],
            id: id,
            project: project
        )
    }

    public func rollbackContext(
        instanceId: String,
        name: String,
        targetVersion: Int64,
        description: String? = nil,
        id: String? = nil
    ) -> CommandEnvelope {
        envelope(
            .contextRollback,
            [
                "instance_id": .string(instanceId), "name": .string(name), "target_version": .int(targetVersion),
                "description": description.map(JSONValue.string),
            ],
            id: id,
            project: project
        )
    }

    /// `agent.message` from instance `from` (in this builder's project) to `to` of the same
    /// workspace, in `toProject` (this builder's project when nil). The delivery event
    /// carries `correlationId`: give the id of the message you answer to pair a reply.
    public func message(
        from: String,
        to: String,
        toProject: String? = nil,
        body: JSONValue,
        correlationId: String? = nil,
        id: String? = nil
    ) -> CommandEnvelope {
        envelope(
            .agentMessage,
            [
                "from_instance_id": .string(from), "to_instance_id": .string(to),
                "to_project_id": toProject.map(JSONValue.string), "body": body,
            ],
            id: id,
            project: project,
            correlationId: correlationId
        )
    }
}
