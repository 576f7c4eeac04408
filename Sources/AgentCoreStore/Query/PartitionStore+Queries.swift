import AgentCoreModel

/// A context version as read back.
public struct ContextVersion: Sendable, Equatable {
    public var version: Int64
    public var data: JSONValue
    public var description: String?
    public var createdBy: String
    public var byteSize: Int64
    public var mode: String
    public var createdAtMillis: Int64
}

/// A context's head as read back.
public struct ContextInfo: Sendable, Equatable {
    public var id: String
    public var instanceId: String
    public var name: String
    public var currentVersion: Int64
    public var oldestVersion: Int64
    public var rollbackPointer: Int64?
    public var rollbackState: RollbackState?
}

/// An instance as read back.
public struct InstanceInfo: Sendable, Equatable {
    public var id: String
    public var definition: String
    public var name: String
    public var status: InstanceStatus
    public var config: JSONValue
    public var state: JSONValue?
    public var lastHeartbeatMillis: Int64?
    public var lastError: String?
}

/// Reads; each filters by workspace and project, so another tenant's objects are not found.
extension PartitionStore {
    public func instance(workspace: String, project: String, id: String) throws -> InstanceInfo? {
        try instances(workspace: workspace, project: project, only: id).first
    }

    public func instances(workspace: String, project: String, only id: String? = nil) throws -> [InstanceInfo] {
        var sql =
            "SELECT id, definition_slug, name, status, config, state, last_heartbeat_ms, last_error FROM agent_instances WHERE workspace_id=? AND project_id=?"
        var args: [SQLValue] = [.text(workspace), .text(project)]
        if let id { sql += " AND id=?"; args.append(.text(id)) }
        return try db.rows(sql + " ORDER BY id", args).map { r in
            InstanceInfo(
                id: r[0].text!, definition: r[1].text!, name: r[2].text!,
                status: InstanceStatus(rawValue: r[3].text!) ?? .error,
                config: (try? JSONParser.parse(r[4].bytes!)) ?? .null, state: r[5].bytes.flatMap { try? JSONParser.parse($0) },
                lastHeartbeatMillis: r[6].int, lastError: r[7].text)
        }
    }

    public func context(workspace: String, project: String, instanceId: String, name: String) throws -> ContextInfo? {
        try contexts(workspace: workspace, project: project, instanceId: instanceId).first { $0.name == name }
    }

    public func contexts(workspace: String, project: String, instanceId: String? = nil) throws -> [ContextInfo] {
        var sql =
            "SELECT id, instance_id, name, current_version, oldest_version, rollback_pointer, rollback_state FROM agent_contexts_with_heads WHERE workspace_id=? AND project_id=?"
        var args: [SQLValue] = [.text(workspace), .text(project)]
        if let instanceId { sql += " AND instance_id=?"; args.append(.text(instanceId)) }
        return try db.rows(sql + " ORDER BY instance_id, name", args).map { r in
            ContextInfo(
                id: r[0].text!, instanceId: r[1].text!, name: r[2].text!, currentVersion: r[3].int!, oldestVersion: r[4].int!,
                rollbackPointer: r[5].int, rollbackState: r[6].text.flatMap(RollbackState.init(rawValue:)))
        }
    }

    /// Versions of a context, newest first, `limit` per page starting below `before`.
    public func versions(
        workspace: String, project: String, instanceId: String, name: String, before: Int64? = nil, limit: Int = 20
    ) throws -> [ContextVersion] {
        try db.rows(
            """
            SELECT v.version, v.data, v.change_description, v.created_by, v.byte_size, v.mode, v.created_ms
            FROM agent_context_versions v JOIN agent_contexts_with_heads c ON c.cid = v.cid
            WHERE c.workspace_id=? AND c.project_id=? AND c.instance_id=? AND c.name=? AND v.version < ?
              AND v.version >= c.oldest_version
            ORDER BY v.version DESC LIMIT ?
            """,
            [.text(workspace), .text(project), .text(instanceId), .text(name), .int(before ?? Int64.max), .int(Int64(limit))]
        ).map { r in
            ContextVersion(
                version: r[0].int!, data: (try? JSONParser.parse(r[1].bytes!)) ?? .null, description: r[2].text,
                createdBy: r[3].text!, byteSize: r[4].int!, mode: r[5].text!, createdAtMillis: r[6].int!)
        }
    }

    /// The data of a context at `version` (nil: current), or nil when it is not retained.
    public func read(
        workspace: String, project: String, instanceId: String, name: String, version: Int64? = nil
    ) throws -> ContextVersion? {
        guard let c = try context(workspace: workspace, project: project, instanceId: instanceId, name: name) else { return nil }
        let v = version ?? c.currentVersion
        return try versions(workspace: workspace, project: project, instanceId: instanceId, name: name, before: v + 1, limit: 1)
            .first.flatMap { $0.version == v ? $0 : nil }
    }

    /// Every state table in a fixed order as text lines: equal stores give equal dumps.
    /// Offsets, the outbox and idempotency rows are left out; they are positions, not state.
    public func canonicalDump() throws -> String {
        let queries = [
            "SELECT 'definition', slug, id, name, agent_type, description, capabilities, config_schema, metadata, is_enabled, revision, created_ms, updated_ms FROM agent_definitions ORDER BY slug",
            "SELECT 'workspace', id, created_ms FROM workspaces ORDER BY id",
            "SELECT 'project', workspace_id, id, created_ms FROM projects ORDER BY workspace_id, id",
            "SELECT 'instance', workspace_id, project_id, id, definition_slug, name, status, config, state, last_heartbeat_ms, last_error, initialized, liveness_ms, created_ms, updated_ms FROM agent_instances ORDER BY workspace_id, project_id, id",
            "SELECT 'context', id, workspace_id, project_id, instance_id, name, current_version, oldest_version, rollback_pointer, rollback_state, created_ms, updated_ms FROM agent_contexts_with_heads ORDER BY id",
            "SELECT 'version', c.id, v.version, v.data, v.change_description, v.created_by, v.byte_size, v.mode, v.created_ms FROM agent_context_versions v JOIN agent_contexts_with_heads c ON c.cid = v.cid WHERE v.version >= c.oldest_version ORDER BY c.id, v.version",
        ]
        var out = ""
        for q in queries {
            for row in try db.rows(q) {
                out += row.map { v -> String in
                    switch v {
                    case .null: return "null"
                    case .int(let i): return String(i)
                    case .text(let s): return JSONValue.string(s).canonicalString
                    case .blob(let b), .utf8(let b): return JSONValue.string(String(decoding: b, as: UTF8.self)).canonicalString
                    }
                }.joined(separator: "\t")
                out += "\n"
            }
        }
        return out
    }
}
