import AgentCoreModel

extension PartitionStore {
    struct InstanceRow {
        var status: InstanceStatus
        var config: JSONValue
        var definitionSlug: String
        var initialized: Bool
    }

    /// Looks up an instance of the command's own workspace and project; others' are not found.
    func instance(_ id: String, ctx: RecordContext) throws -> InstanceRow {
        let s = try db.statement(
            "SELECT status, config, definition_slug, initialized FROM agent_instances WHERE workspace_id=? AND project_id=? AND id=?"
        )
        try s.bind(.text(ctx.workspace), at: 1)
        try s.bind(.text(ctx.project), at: 2)
        try s.bind(.text(id), at: 3)
        defer { s.reset() }
        guard try s.step() else {
            throw CommandRejection(.notFound, "no instance '\(id)' in this workspace and project", field: "payload.instance_id")
        }
        return InstanceRow(
            status: InstanceStatus(rawValue: s.text(0) ?? "") ?? .error,
            config: (try? JSONParser.parse(s.bytes(1))) ?? .object([:]),
            definitionSlug: s.text(2) ?? "",
            initialized: s.int(3) != 0
        )
    }

    func spawnInstance(
        definition slug: String,
        name: String,
        instanceId: String?,
        config: JSONValue,
        state: JSONValue?,
        ctx: inout RecordContext
    ) throws {
        guard let def = try definition(slug: slug) else {
            throw CommandRejection(.notFound, "no definition '\(slug)'", field: "payload.definition")
        }
        guard def.fields.enabled != false else {
            throw CommandRejection(.definitionDisabled, "definition '\(slug)' is disabled", field: "payload.definition")
        }
        if let v = ConfigSchema(def.fields.configSchema ?? .object([:])).validate(config, path: "payload.config") {
            throw CommandRejection(.configInvalid, v.message, field: v.path)
        }
        let id = instanceId ?? ("inst_" + FNV1a64.hex([ctx.workspace, ctx.project, ctx.envelope?.id ?? ""]))
        try checkConcurrency(workspace: ctx.workspace)
        let exists = try db.rows(
            "SELECT 1 FROM agent_instances WHERE workspace_id=? AND project_id=? AND id=?",
            [.text(ctx.workspace), .text(ctx.project), .text(id)]
        )
        if !exists.isEmpty {
            throw CommandRejection(.alreadyExists, "instance '\(id)' exists", field: "payload.instance_id")
        }
        try db.run(
            "INSERT INTO agent_instances(workspace_id, project_id, id, definition_id, definition_slug, name, status, config, state, liveness_ms, created_ms, updated_ms) VALUES(?,?,?,?,?,?,'idle',?,?,?,?,?)",
            [
                .text(ctx.workspace), .text(ctx.project), .text(id), .text(def.id), .text(slug), .text(name),
                .text(config.canonicalString), state.map { .text($0.canonicalString) } ?? .null, .int(ctx.time),
                .int(ctx.time), .int(ctx.time),
            ]
        )
        ctx.emit(
            .instanceSpawned,
            [
                "instance_id": .string(id), "definition": .string(slug), "name": .string(name), "status": "idle",
                "config": config, "state": state ?? .null,
            ]
        )
    }

    /// The seed's `agent_max_concurrency`: instances of a workspace that are not offline.
    /// Checked when an instance is spawned and when one comes back from offline.
    func checkConcurrency(workspace: String) throws {
        let live =
            try db.rows(
                "SELECT count(*) FROM agent_instances WHERE workspace_id=? AND status != 'offline'",
                [.text(workspace)]
            ).first?.first?.int ?? 0
        if live >= Int64(options.maxConcurrency) {
            throw CommandRejection(
                .quotaExceeded,
                "workspace has \(live) instances that are not offline (limit \(options.maxConcurrency))"
            )
        }
    }

    func transitionInstance(
        _ id: String,
        to: InstanceStatus,
        reason: String?,
        error: String?,
        ctx: inout RecordContext
    ) throws {
        let row = try instance(id, ctx: ctx)
        guard row.status.canTransition(to: to) else {
            throw CommandRejection(.invalidTransition, "cannot go from \(row.status.rawValue) to \(to.rawValue)", field: "payload.to")
        }
        if row.status == .offline && to != .offline {
            try checkConcurrency(workspace: ctx.workspace)
        }
        var from = row.status
        var initialized = row.initialized
        if to == .active && from == .idle && !initialized {
            // The seed's activate() initialises a never-initialised agent first.
            ctx.emit(.instanceStatusChanged, pairs: statusPayload(id, from: from, to: .initializing, reason: "activate", error: nil))
            from = .initializing
        }
        if to == .initializing || from == .initializing { initialized = true }
        try db.run(
            "UPDATE agent_instances SET status=?, initialized=?, last_error=coalesce(?, last_error), liveness_ms=?, updated_ms=? WHERE workspace_id=? AND project_id=? AND id=?",
            [
                .text(to.rawValue), .int(initialized ? 1 : 0), error.map(SQLValue.text) ?? .null, .int(ctx.time),
                .int(ctx.time), .text(ctx.workspace), .text(ctx.project), .text(id),
            ]
        )
        ctx.emit(.instanceStatusChanged, pairs: statusPayload(id, from: from, to: to, reason: reason, error: error))
    }

    func statusPayload(
        _ id: String,
        from: InstanceStatus,
        to: InstanceStatus,
        reason: String?,
        error: String?
    )
        -> [(String, JSONValue)]
    {
        [
            ("instance_id", .string(id)), ("from", .string(from.rawValue)), ("to", .string(to.rawValue)),
            ("reason", reason.map(JSONValue.string) ?? .null), ("error", error.map(JSONValue.string) ?? .null),
        ]
    }

    func heartbeatInstance(_ id: String, state: JSONValue?, ctx: inout RecordContext) throws {
        let row = try instance(id, ctx: ctx)
        try db.run(
            "UPDATE agent_instances SET last_heartbeat_ms=?, liveness_ms=?, state=coalesce(?, state), updated_ms=? WHERE workspace_id=? AND project_id=? AND id=?",
            [
                .int(ctx.time), .int(ctx.time), state.map { .text($0.canonicalString) } ?? .null, .int(ctx.time),
                .text(ctx.workspace), .text(ctx.project), .text(id),
            ]
        )
        var payload: [(String, JSONValue)] = [
            ("instance_id", .string(id)), ("status", .string(row.status.rawValue)),
            ("at", .string(Timestamp.iso8601(millis: ctx.time))),
        ]
        if let state { payload.append(("state", state)) }
        ctx.emit(.instanceHeartbeat, pairs: payload)
    }

    func configureInstance(_ id: String, update: [String: JSONValue], ctx: inout RecordContext) throws {
        let row = try instance(id, ctx: ctx)
        let merged = row.config.mergingTopLevel(update)
        let schema = try definition(slug: row.definitionSlug)?.fields.configSchema ?? .object([:])
        if let v = ConfigSchema(schema).validate(merged, path: "payload.config") {
            throw CommandRejection(.configInvalid, v.message, field: v.path)
        }
        let text = merged.canonicalString
        if text.utf8.count > options.limits.maxDocumentBytes {
            throw CommandRejection(.limitExceeded, "merged config exceeds \(options.limits.maxDocumentBytes) bytes", field: "payload.config")
        }
        try db.run(
            "UPDATE agent_instances SET config=?, updated_ms=? WHERE workspace_id=? AND project_id=? AND id=?",
            [.text(text), .int(ctx.time), .text(ctx.workspace), .text(ctx.project), .text(id)]
        )
        ctx.emit(.instanceConfigured, ["instance_id": .string(id), "config": merged])
    }

    func removeInstance(_ id: String, ctx: inout RecordContext) throws {
        _ = try instance(id, ctx: ctx)
        let args: [SQLValue] = [.text(ctx.workspace), .text(ctx.project), .text(id)]
        // The pruned rows among those deleted leave the count of pending ones.
        prunedPending -= try countPrunedRows(ofInstance: args)
        try db.run(
            "DELETE FROM agent_context_versions WHERE cid IN (SELECT cid FROM agent_contexts WHERE workspace_id=? AND project_id=? AND instance_id=?)",
            args
        )
        try db.run(
            "DELETE FROM agent_context_heads WHERE cid IN (SELECT cid FROM agent_contexts WHERE workspace_id=? AND project_id=? AND instance_id=?)",
            args
        )
        try db.run("DELETE FROM agent_contexts WHERE workspace_id=? AND project_id=? AND instance_id=?", args)
        let removed = db.changes
        headCache.removeAll()
        try db.run("DELETE FROM agent_mailboxes WHERE workspace_id=? AND project_id=? AND instance_id=?", args)
        try db.run("DELETE FROM agent_instances WHERE workspace_id=? AND project_id=? AND id=?", args)
        ctx.emit(.instanceRemoved, ["instance_id": .string(id), "contexts_removed": .int(Int64(removed))])
    }
}
