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
    public var createdAtMillis: Int64 = 0
    public var updatedAtMillis: Int64 = 0
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
    public var workspaceId = ""
    public var projectId = ""
    public var createdAtMillis: Int64 = 0
    public var updatedAtMillis: Int64 = 0
}

/// A definition as read back (every store holds the whole registry).
public struct DefinitionInfo: Sendable, Equatable {
    public var slug: String
    public var id: String
    public var name: String
    public var agentType: String
    public var description: String?
    public var capabilities: JSONValue
    public var configSchema: JSONValue
    public var metadata: JSONValue
    public var isEnabled: Bool
    public var revision: Int64
    public var createdAtMillis: Int64
    public var updatedAtMillis: Int64
}

/// A workspace and its projects as read back.
public struct WorkspaceInfo: Sendable, Equatable {
    public var id: String
    public var projects: [String]
}

/// A store connection that reads (a `PartitionStore`'s own, or a `StoreReader`'s).
public final class StoreConnection {
    let db: SQLiteConnection
    init(_ db: SQLiteConnection) { self.db = db }
}

/// The reads, shared by the applying store and read-only `StoreReader`s.
public protocol StoreReading {
    var readConnection: StoreConnection { get }
}

extension PartitionStore: StoreReading {
    public var readConnection: StoreConnection { StoreConnection(db) }
}

/// Reads; each filters by workspace and project, so another tenant's objects are not found.
extension StoreReading {
    var readDB: SQLiteConnection { readConnection.db }

    public func instance(workspace: String, project: String, id: String) throws -> InstanceInfo? {
        try instances(workspace: workspace, project: project, only: id).first
    }

    /// Instances in id order; `status` filters, `after` and `limit` page.
    public func instances(
        workspace: String,
        project: String,
        only id: String? = nil,
        status: InstanceStatus? = nil,
        after: String? = nil,
        limit: Int? = nil
    ) throws -> [InstanceInfo] {
        var sql =
            "SELECT id, definition_slug, name, status, config, state, last_heartbeat_ms, last_error, created_ms, updated_ms FROM agent_instances WHERE workspace_id=? AND project_id=?"
        var args: [SQLValue] = [.text(workspace), .text(project)]
        if let id {
            sql += " AND id=?"
            args.append(.text(id))
        }
        if let status {
            sql += " AND status=?"
            args.append(.text(status.rawValue))
        }
        if let after {
            sql += " AND id>?"
            args.append(.text(after))
        }
        sql += " ORDER BY id"
        if let limit {
            sql += " LIMIT ?"
            args.append(.int(Int64(limit)))
        }
        return try readDB.rows(sql, args).map { r in
            InstanceInfo(
                id: r[0].text!,
                definition: r[1].text!,
                name: r[2].text!,
                status: InstanceStatus(rawValue: r[3].text!) ?? .error,
                config: (try? JSONParser.parse(r[4].bytes!)) ?? .null,
                state: r[5].bytes.flatMap { try? JSONParser.parse($0) },
                lastHeartbeatMillis: r[6].int,
                lastError: r[7].text,
                workspaceId: workspace,
                projectId: project,
                createdAtMillis: r[8].int ?? 0,
                updatedAtMillis: r[9].int ?? 0
            )
        }
    }

    /// Every definition, by slug.
    public func definitions() throws -> [DefinitionInfo] {
        try readDB.rows(
            "SELECT slug, id, name, agent_type, description, capabilities, config_schema, metadata, is_enabled, revision, created_ms, updated_ms FROM agent_definitions ORDER BY slug"
        ).map { r in
            DefinitionInfo(
                slug: r[0].text!,
                id: r[1].text!,
                name: r[2].text!,
                agentType: r[3].text!,
                description: r[4].text,
                capabilities: (try? JSONParser.parse(r[5].bytes!)) ?? .array([]),
                configSchema: (try? JSONParser.parse(r[6].bytes!)) ?? .object([:]),
                metadata: (try? JSONParser.parse(r[7].bytes!)) ?? .object([:]),
                isEnabled: r[8].int != 0,
                revision: r[9].int!,
                createdAtMillis: r[10].int!,
                updatedAtMillis: r[11].int!
            )
        }
    }

    /// Workspaces with their projects, by id.
    public func workspaces() throws -> [WorkspaceInfo] {
        var out: [WorkspaceInfo] = []
        for r in try readDB.rows(
            "SELECT w.id, p.id FROM workspaces w LEFT JOIN projects p ON p.workspace_id = w.id ORDER BY w.id, p.id"
        ) {
            let ws = r[0].text!
            if out.last?.id != ws { out.append(WorkspaceInfo(id: ws, projects: [])) }
            if let p = r[1].text { out[out.count - 1].projects.append(p) }
        }
        return out
    }

    public func context(workspace: String, project: String, instanceId: String, name: String) throws -> ContextInfo? {
        try contexts(workspace: workspace, project: project, instanceId: instanceId).first { $0.name == name }
    }

    public func contexts(workspace: String, project: String, instanceId: String? = nil) throws -> [ContextInfo] {
        var sql =
            "SELECT id, instance_id, name, current_version, oldest_version, rollback_pointer, rollback_state, created_ms, updated_ms FROM agent_contexts_with_heads WHERE workspace_id=? AND project_id=?"
        var args: [SQLValue] = [.text(workspace), .text(project)]
        if let instanceId {
            sql += " AND instance_id=?"
            args.append(.text(instanceId))
        }
        return try readDB.rows(sql + " ORDER BY instance_id, name", args).map { r in
            ContextInfo(
                id: r[0].text!,
                instanceId: r[1].text!,
                name: r[2].text!,
                currentVersion: r[3].int!,
                oldestVersion: r[4].int!,
                rollbackPointer: r[5].int,
                rollbackState: r[6].text.flatMap(RollbackState.init(rawValue:)),
                createdAtMillis: r[7].int ?? 0,
                updatedAtMillis: r[8].int ?? 0
            )
        }
    }

    /// Versions of a context, newest first, `limit` per page starting below `before`.
    public func versions(
        workspace: String,
        project: String,
        instanceId: String,
        name: String,
        before: Int64? = nil,
        limit: Int = 20
    ) throws -> [ContextVersion] {
        try readDB.rows(
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
                version: r[0].int!,
                data: (try? JSONParser.parse(r[1].bytes!)) ?? .null,
                description: r[2].text,
                createdBy: r[3].text!,
                byteSize: r[4].int!,
                mode: r[5].text!,
                createdAtMillis: r[6].int!
            )
        }
    }

    /// The data of a context at `version` (nil: current), or nil when it is not retained.
    public func read(
        workspace: String,
        project: String,
        instanceId: String,
        name: String,
        version: Int64? = nil
    ) throws -> ContextVersion? {
        guard let c = try context(workspace: workspace, project: project, instanceId: instanceId, name: name) else { return nil }
        let v = version ?? c.currentVersion
        guard v < Int64.max else { return nil }  // no such version (and `v + 1` would overflow)
        return try versions(workspace: workspace, project: project, instanceId: instanceId, name: name, before: v + 1, limit: 1)
            .first.flatMap { $0.version == v ? $0 : nil }
    }

    /// Every state table in a fixed order as text lines: equal stores give equal dumps.
    /// Offsets, the outbox and idempotency rows are left out; they are positions, not state.
    /// `isoTimes` writes the millisecond columns as RFC 3339 times, for people (the dump
    /// is then no longer exact to compare).
    public func canonicalDump(isoTimes: Bool = false) throws -> String {
        func t(_ column: String) -> String {
            isoTimes ? "strftime('%Y-%m-%dT%H:%M:%fZ', \(column) / 1000.0, 'unixepoch')" : column
        }
        let queries = [
            "SELECT 'definition', slug, id, name, agent_type, description, capabilities, config_schema, metadata, is_enabled, revision, \(t("created_ms")), \(t("updated_ms")) FROM agent_definitions ORDER BY slug",
            "SELECT 'workspace', id, \(t("created_ms")) FROM workspaces ORDER BY id",
            "SELECT 'project', workspace_id, id, \(t("created_ms")) FROM projects ORDER BY workspace_id, id",
            "SELECT 'instance', workspace_id, project_id, id, definition_slug, name, status, config, state, \(t("last_heartbeat_ms")), last_error, initialized, \(t("liveness_ms")), \(t("created_ms")), \(t("updated_ms")) FROM agent_instances ORDER BY workspace_id, project_id, id",
            "SELECT 'context', id, workspace_id, project_id, instance_id, name, current_version, oldest_version, rollback_pointer, rollback_state, \(t("created_ms")), \(t("updated_ms")) FROM agent_contexts_with_heads ORDER BY id",
            "SELECT 'version', c.id, v.version, v.data, v.change_description, v.created_by, v.byte_size, v.mode, \(t("v.created_ms")) FROM agent_context_versions v JOIN agent_contexts_with_heads c ON c.cid = v.cid WHERE v.version >= c.oldest_version ORDER BY c.id, v.version",
            "SELECT 'mailbox', workspace_id, project_id, instance_id, last_seq FROM agent_mailboxes ORDER BY workspace_id, project_id, instance_id",
        ]
        var out = ""
        for q in queries {
            for row in try readDB.rows(q) {
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
