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
        """,
        // The columns every write changes move to a narrow table of their own: a write
        // rewrites a row of about 20 bytes instead of the whole context row (with 100k
        // contexts, one page per write instead of a few hundred rows per page).
        """
        CREATE TABLE agent_context_heads(
            cid INTEGER PRIMARY KEY REFERENCES agent_contexts(cid), current_version INTEGER NOT NULL,
            oldest_version INTEGER NOT NULL, updated_ms INTEGER NOT NULL) STRICT;
        INSERT INTO agent_context_heads(cid, current_version, oldest_version, updated_ms)
            SELECT cid, current_version, oldest_version, updated_ms FROM agent_contexts;
        ALTER TABLE agent_contexts DROP COLUMN current_version;
        ALTER TABLE agent_contexts DROP COLUMN oldest_version;
        ALTER TABLE agent_contexts DROP COLUMN updated_ms;
        CREATE VIEW agent_contexts_with_heads AS
            SELECT c.cid, c.id, c.workspace_id, c.project_id, c.instance_id, c.name, h.current_version,
                   h.oldest_version, c.rollback_pointer, c.rollback_state, c.created_ms, h.updated_ms
            FROM agent_contexts c JOIN agent_context_heads h ON h.cid = c.cid;
        """,
        // From here on `results.outputs` may be compressed (`ResultCompression`). No table
        // changes: the step exists so that an older agentcore, which cannot read those rows,
        // refuses the store ("schema newer than this agentcore") instead of misreading it.
        """
        INSERT INTO store_meta(key, value) VALUES('results_format', 'lz4-dictionary-v1')
            ON CONFLICT(key) DO UPDATE SET value = excluded.value;
        """,
        // The head row loses `updated_ms` (a third of its bytes: with 100k contexts a batch
        // of writes rewrote about 400 head pages, now about 260). A context's updated time
        // is its current version's `created_ms`, unless a change without a new version (a
        // failed rollback) came after it: `touched_ms` holds that change's time and
        // `touched_version` the version current then. The migration records every context's
        // old `updated_ms` that way, so the view gives the same times as before.
        """
        ALTER TABLE agent_contexts ADD COLUMN touched_ms INTEGER;
        ALTER TABLE agent_contexts ADD COLUMN touched_version INTEGER;
        UPDATE agent_contexts SET touched_ms = h.updated_ms, touched_version = h.current_version
            FROM agent_context_heads h WHERE h.cid = agent_contexts.cid;
        DROP VIEW agent_contexts_with_heads;
        ALTER TABLE agent_context_heads DROP COLUMN updated_ms;
        CREATE VIEW agent_contexts_with_heads AS
            SELECT c.cid, c.id, c.workspace_id, c.project_id, c.instance_id, c.name, h.current_version,
                   h.oldest_version, c.rollback_pointer, c.rollback_state, c.created_ms,
                   CASE WHEN c.touched_version = h.current_version THEN c.touched_ms
                        ELSE (SELECT v.created_ms FROM agent_context_versions v
                              WHERE v.cid = h.cid AND v.version = h.current_version) END AS updated_ms
            FROM agent_contexts c JOIN agent_context_heads h ON h.cid = c.cid;
        """,
        // The changelog's outbox: per applied batch, which rows it changed (`ChangeCapture`),
        // until the changelog topic acknowledged their images (see `PartitionStore+Changelog`).
        """
        CREATE TABLE changelog_dirty(batch INTEGER PRIMARY KEY, entries BLOB NOT NULL) STRICT;
        """,
        // Mailboxes of `agent.message`: the last sequence number delivered to each target
        // (`PartitionStore+Messages`). A row exists once an instance has received a message.
        """
        CREATE TABLE agent_mailboxes(
            workspace_id TEXT NOT NULL, project_id TEXT NOT NULL, instance_id TEXT NOT NULL,
            last_seq INTEGER NOT NULL, PRIMARY KEY(workspace_id, project_id, instance_id)) STRICT;
        """,
    ]

    static func migrate(_ db: SQLiteConnection) throws {
        let current = try db.userVersion()
        if current > steps.count {
            throw SQLiteError(code: 0, message: "store schema \(current) is newer than this agentcore (\(steps.count))", sql: nil)
        }
        for (i, sql) in steps.enumerated() where i >= current {
            try db.inTransaction {
                // Read again under the write lock: another connection (a worker creating the
                // store while `inspect` or a test opens it) may have run this step meanwhile.
                guard try db.userVersion() == i else { return }
                try db.execute(sql)
                try db.execute("PRAGMA user_version = \(i + 1)")
            }
        }
    }
}
