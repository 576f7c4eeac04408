import AgentCoreModel
import AgentCoreStore

/// The read API's JSON shapes (schemas/openapi.yaml).
enum APIJSON {
    static func time(_ millis: Int64?) -> JSONValue { millis.map { .string(Timestamp.iso8601(millis: $0)) } ?? .null }

    static func instance(_ i: InstanceInfo) -> JSONValue {
        .object([
            "workspace_id": .string(i.workspaceId), "project_id": .string(i.projectId), "id": .string(i.id),
            "definition": .string(i.definition), "name": .string(i.name), "status": .string(i.status.rawValue),
            "config": i.config, "state": i.state ?? .null, "last_heartbeat": time(i.lastHeartbeatMillis),
            "last_error": i.lastError.map(JSONValue.string) ?? .null, "created_at": time(i.createdAtMillis),
            "updated_at": time(i.updatedAtMillis),
        ])
    }

    static func context(_ c: ContextInfo) -> JSONValue {
        .object([
            "id": .string(c.id), "instance_id": .string(c.instanceId), "name": .string(c.name),
            "current_version": .int(c.currentVersion), "oldest_version": .int(c.oldestVersion),
            "rollback_pointer": c.rollbackPointer.map(JSONValue.int) ?? .null,
            "rollback_state": c.rollbackState.map { .string($0.rawValue) } ?? .null, "created_at": time(c.createdAtMillis),
            "updated_at": time(c.updatedAtMillis),
        ])
    }

    static func version(_ v: ContextVersion) -> JSONValue {
        .object([
            "version": .int(v.version), "data": v.data, "description": v.description.map(JSONValue.string) ?? .null,
            "created_by": .string(v.createdBy), "byte_size": .int(v.byteSize), "mode": .string(v.mode),
            "created_at": time(v.createdAtMillis),
        ])
    }

    static func definition(_ d: DefinitionInfo) -> JSONValue {
        .object([
            "slug": .string(d.slug), "id": .string(d.id), "name": .string(d.name), "agent_type": .string(d.agentType),
            "description": d.description.map(JSONValue.string) ?? .null, "capabilities": d.capabilities,
            "config_schema": d.configSchema, "metadata": d.metadata, "is_enabled": .bool(d.isEnabled),
            "revision": .int(d.revision), "created_at": time(d.createdAtMillis), "updated_at": time(d.updatedAtMillis),
        ])
    }
}
