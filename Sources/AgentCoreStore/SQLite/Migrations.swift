/// The store's schema, applied in order and recorded in `PRAGMA user_version`. Each step
/// runs once, inside one transaction. Never edit a released step; append a new one.
enum Migrations {
    static let steps: [String] = [
        """
        CREATE TABLE store_meta(key TEXT PRIMARY KEY, value ANY) STRICT;
        CREATE TABLE applied_offsets(topic TEXT PRIMARY KEY, offset INTEGER NOT NULL) STRICT;
        CREATE TABLE results(
            seq INTEGER PRIMARY KEY, hkey INTEGER NOT NULL, workspace_id TEXT, command_id TEXT,
            outputs BLOB NOT NULL) STRICT;
        CREATE TABLE workspaces(id TEXT PRIMARY KEY, created_ms INTEGER NOT NULL) STRICT;
        CREATE TABLE projects(
            workspace_id TEXT NOT NULL REFERENCES workspaces(id), id TEXT NOT NULL, created_ms INTEGER NOT NULL,
            PRIMARY KEY(workspace_id, id)) STRICT;
        CREATE TABLE agent_definitions(
            slug TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, agent_type TEXT NOT NULL,
            description TEXT, capabilities TEXT NOT NULL, config_schema TEXT NOT NULL, metadata TEXT NOT NULL,
            is_enabled INTEGER NOT NULL, revision INTEGER NOT NULL, created_ms INTEGER NOT NULL,
            updated_ms INTEGER NOT NULL) STRICT;
        CREATE INDEX agent_definitions_type ON agent_definitions(agent_type);
        CREATE TABLE agent_instances(
            workspace_id TEXT NOT NULL, project_id TEXT NOT NULL, id TEXT NOT NULL,
            definition_id TEXT NOT NULL REFERENCES agent_definitions(id), definition_slug TEXT NOT NULL,
            name TEXT NOT NULL, status TEXT NOT NULL, config TEXT NOT NULL, state TEXT,
            last_heartbeat_ms INTEGER, last_error TEXT, initialized INTEGER NOT NULL DEFAULT 0,
            liveness_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
            PRIMARY KEY(workspace_id, project_id, id),
            FOREIGN KEY(workspace_id, project_id) REFERENCES projects(workspace_id, id)) STRICT;
        CREATE INDEX agent_instances_status ON agent_instances(workspace_id, status);
        CREATE INDEX agent_instances_liveness ON agent_instances(liveness_ms) WHERE status != 'offline';
        CREATE TABLE agent_contexts(
            cid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, workspace_id TEXT NOT NULL, project_id TEXT NOT NULL,
            instance_id TEXT NOT NULL, name TEXT NOT NULL, current_version INTEGER NOT NULL,
            oldest_version INTEGER NOT NULL, rollback_pointer INTEGER, rollback_state TEXT,
            created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
            UNIQUE(workspace_id, project_id, instance_id, name),
            FOREIGN KEY(workspace_id, project_id, instance_id) REFERENCES agent_instances(workspace_id, project_id, id)
            ) STRICT;
        CREATE TABLE agent_context_versions(
            cid INTEGER NOT NULL REFERENCES agent_contexts(cid), version INTEGER NOT NULL, data TEXT NOT NULL,
            change_description TEXT, created_by TEXT NOT NULL, byte_size INTEGER NOT NULL, mode TEXT NOT NULL,
            created_ms INTEGER NOT NULL, PRIMARY KEY(cid, version)) STRICT;
        """
    ]

    static func migrate(_ db: SQLiteConnection) throws(SQLiteError) -> Void {
        let current = try db.userVersion()
        if current > steps.count {
            throw SQLiteError(code: 0, message: "store schema \(current) is newer than this agentcore (\(steps.count))", sql: nil)
        }
        for (i, sql) in steps.enumerated() where i >= current {
            try db.execute("BEGIN IMMEDIATE")
            do {
                try db.execute(sql)
                try db.execute("PRAGMA user_version = \(i + 1)")
                try db.execute("COMMIT")
            } catch {
                try? db.execute("ROLLBACK")
                throw error
            }
        }
    }
}
