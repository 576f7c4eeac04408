import AgentCoreModel

extension PartitionStore {
    /// A context's row id, id and version range. A class: `appendVersion` moves the cached
    /// head in place instead of hashing its key a second time to store a new one.
    final class ContextHead {
        let cid: Int64
        let id: String
        var current: Int64
        var oldest: Int64

        init(cid: Int64, id: String, current: Int64, oldest: Int64) {
            self.cid = cid
            self.id = id
            self.current = current
            self.oldest = oldest
        }
    }

    /// A context deletes its own pruned rows below the sweep every this many versions.
    static let catchUpEvery: Int64 = 16

    /// Deletes the rows of pruned versions among the oldest version rows, in insertion
    /// (rowid) order, keeping the newest `versionSweepLag` rows for later. Pruning marks a
    /// version gone by moving the context's `oldest_version` (every read filters on it);
    /// deleting each pruned row at once rewrote one scattered page per write, while rows
    /// written together die together, so a sweep in rowid order frees whole pages. At most
    /// `max(16_384, atLeast)` rows are examined per batch.
    func sweepPrunedVersions(atLeast: Int) throws {
        let newest = try db.rows("SELECT coalesce(max(rowid), 0) FROM agent_context_versions").first?.first?.int ?? 0
        let upTo = min(newest - Int64(options.versionSweepLag), sweptThrough + Int64(max(16_384, atLeast)))
        guard upTo > sweptThrough else { return }
        // With no pruned row left anywhere there is nothing to find: move on without the
        // scan (rows pruned later below the sweep go with their context's catch-up delete).
        if prunedPending > 0 {
            // Rows already pruned (tombstoned when pruned): not captured again.
            try uncaptured {
                try db.run(
                    """
                    DELETE FROM agent_context_versions WHERE rowid >= ? AND rowid < ?
                      AND version < (SELECT h.oldest_version FROM agent_context_heads h WHERE h.cid = agent_context_versions.cid)
                    """,
                    [.int(sweptThrough), .int(upTo)]
                )
            }
            prunedPending -= Int64(db.changes)
        }
        try setMeta("versions_swept", .int(upTo))
        sweptThrough = upTo
    }

    /// The key of a context in `headCache`.
    static func headKey(workspace: String, project: String, instanceId: String, name: String) -> HeadKey {
        HeadKey(workspace: workspace, project: project, instanceId: instanceId, name: name)
    }

    /// The key of a context of the record's workspace and project (worked out while
    /// decoding for the context the command names).
    static func headKey(_ ctx: RecordContext, _ instanceId: String, _ name: String) -> HeadKey {
        ctx.headKey ?? headKey(workspace: ctx.workspace, project: ctx.project, instanceId: instanceId, name: name)
    }

    /// The head of a context, from the cache of heads this store wrote or read (it is the
    /// only writer; the cache is cleared whenever a batch fails, an instance is removed or
    /// another process wrote to the file).
    func contextHead(instanceId: String, name: String, ctx: RecordContext) throws -> ContextHead? {
        let key = Self.headKey(ctx, instanceId, name)
        if let cached = headCache[key] { return cached }
        guard let head = try loadContextHead(instanceId: instanceId, name: name, ctx: ctx) else { return nil }
        cacheHead(key, head)
        return head
    }

    func cacheHead(_ key: HeadKey, _ head: ContextHead) {
        if headCache.count >= 200_000 { headCache.removeAll(keepingCapacity: true) }
        headCache[key] = head
    }

    private func loadContextHead(instanceId: String, name: String, ctx: RecordContext) throws -> ContextHead? {
        let s = try db.statement(
            "SELECT c.cid, c.id, h.current_version, h.oldest_version FROM agent_contexts c JOIN agent_context_heads h ON h.cid = c.cid WHERE c.workspace_id=? AND c.project_id=? AND c.instance_id=? AND c.name=?"
        )
        try s.bind(.text(ctx.workspace), at: 1)
        try s.bind(.text(ctx.project), at: 2)
        try s.bind(.text(instanceId), at: 3)
        try s.bind(.text(name), at: 4)
        defer { s.reset() }  // an unfinished statement would hold a read snapshot open
        guard try s.step() else { return nil }
        return ContextHead(cid: s.int(0), id: s.text(1)!, current: s.int(2), oldest: s.int(3))
    }

    static func contextId(workspace: String, project: String, instanceId: String, name: String) -> String {
        "ctx_" + FNV1a64.hex([workspace, project, instanceId, name])
    }

    func versionData(cid: Int64, version: Int64) throws -> [UInt8]? {
        let s = try db.statement("SELECT data FROM agent_context_versions WHERE cid=? AND version=?")
        try s.bind(.int(cid), at: 1)
        try s.bind(.int(version), at: 2)
        defer { s.reset() }
        return try s.step() ? s.bytes(0) : nil
    }

    func writeContext(
        instanceId: String,
        name: String,
        data: ContextData,
        description: String?,
        mode: WriteMode,
        expectedVersion: Int64?,
        ctx: inout RecordContext
    ) throws {
        let found = try contextHead(instanceId: instanceId, name: name, ctx: ctx)
        let current = found?.current ?? 0
        if let expected = expectedVersion, expected != current {
            throw CommandRejection(
                .versionConflict,
                "expected version \(expected), current is \(current)",
                field: "payload.expected_version"
            )
        }
        let text: [UInt8]
        if mode == .replace {
            text = data.canonicalBytes
        } else if let h = found, let bytes = try versionData(cid: h.cid, version: h.current) {
            let patch = data.value
            let current = try? JSONParser.parse(bytes) as JSONValue
            text = (current?.applyingMergePatch(patch) ?? patch.applyingMergePatch(.null)).canonicalBytes
        } else {
            text = JSONValue.null.applyingMergePatch(data.value).canonicalBytes
        }
        let size = text.count
        if size > options.limits.maxContextBytes {
            throw CommandRejection(
                .limitExceeded,
                "context data of \(size) bytes exceeds \(options.limits.maxContextBytes)",
                field: "payload.data"
            )
        }
        let head: ContextHead
        if let found {
            head = found
        } else {
            _ = try instance(instanceId, ctx: ctx)
            let id = Self.contextId(workspace: ctx.workspace, project: ctx.project, instanceId: instanceId, name: name)
            // The first write of this command: a derived-id collision fails here and leaves nothing.
            try db.run(
                "INSERT INTO agent_contexts(id, workspace_id, project_id, instance_id, name, created_ms) VALUES(?,?,?,?,?,?)",
                [.text(id), .text(ctx.workspace), .text(ctx.project), .text(instanceId), .text(name), .int(ctx.time)]
            )
            let cid = try db.rows("SELECT last_insert_rowid()").first![0].int!
            try db.run(
                "INSERT INTO agent_context_heads(cid, current_version, oldest_version) VALUES(?, 0, 1)",
                [.int(cid)]
            )
            head = ContextHead(cid: cid, id: id, current: 0, oldest: 1)
            ctx.emit(.contextCreated, ["context_id": .string(id), "instance_id": .string(instanceId), "name": .string(name)])
        }
        try appendVersion(
            head: head,
            instanceId: instanceId,
            name: name,
            text: text,
            description: description,
            mode: mode.rawValue,
            ctx: &ctx,
            rollback: nil
        )
        if found == nil { cacheHead(Self.headKey(ctx, instanceId, name), head) }
    }

    static let insertVersion = HotStatement(
        slot: 0,
        sql:
            "INSERT INTO agent_context_versions(cid, version, data, change_description, created_by, byte_size, mode, created_ms) VALUES(?,?,?,?,?,?,?,?)"
    )
    static let moveHead = HotStatement(
        slot: 1,
        sql: "UPDATE agent_context_heads SET current_version=?, oldest_version=? WHERE cid=?"
    )

    /// Appends version current+1, moves the head, prunes beyond the history limit.
    private func appendVersion(
        head: ContextHead,
        instanceId: String,
        name: String,
        text: [UInt8],
        description: String?,
        mode: String,
        ctx: inout RecordContext,
        rollback: Int64?
    ) throws {
        let version = head.current + 1
        let size = text.count
        let ins = try db.statement(Self.insertVersion)
        try ins.bind(.int(head.cid), at: 1)
        try ins.bind(.int(version), at: 2)
        try ins.bind(.utf8(text), at: 3)
        try ins.bind(description.map(SQLValue.text) ?? .null, at: 4)
        try ins.bind(.text(ctx.actor), at: 5)
        try ins.bind(.int(Int64(size)), at: 6)
        try ins.bind(.text(mode), at: 7)
        try ins.bind(.int(ctx.time), at: 8)
        _ = try ins.step()
        var oldest = head.oldest
        let limit = Int64(max(1, options.historyLimit))
        let pruneTo = version - limit
        if pruneTo >= oldest && pruneTo % Self.catchUpEvery == 0 {
            // Rows the sweep passed while they were still retained (rows above the sweep
            // are left to it). Every 16th prune, so it rarely costs a statement.
            try uncaptured {
                try db.run(
                    "DELETE FROM agent_context_versions WHERE cid=? AND version<=? AND rowid<?",
                    [.int(head.cid), .int(pruneTo), .int(sweptThrough)]
                )
            }
            prunedPending -= Int64(db.changes)
        }
        let upd = try db.statement(Self.moveHead)
        let newOldest = max(oldest, pruneTo + 1)
        prunedPending += newOldest - oldest  // rows [oldest, newOldest) all exist until deleted as pruned
        try upd.bind(.int(version), at: 1)
        try upd.bind(.int(newOldest), at: 2)
        try upd.bind(.int(head.cid), at: 3)
        _ = try upd.step()
        if let rollback {
            try db.run(
                "UPDATE agent_contexts SET rollback_pointer=?, rollback_state=? WHERE cid=?",
                [.int(rollback), .text(RollbackState.success.rawValue), .int(head.cid)]
            )
        }
        let parent = head.current
        head.current = version  // the cached head: see `ContextHead`
        head.oldest = newOldest
        ctx.emit(
            .contextVersionCreated,
            payload: .versionCreated(
                .init(
                    byteSize: Int64(size),
                    contextId: head.id,
                    createdBy: ctx.actor,
                    description: description,
                    instanceId: instanceId,
                    mode: mode,
                    name: name,
                    parentVersion: parent > 0 ? parent : nil,
                    version: version
                )
            )
        )
        if pruneTo >= oldest {
            ctx.emit(
                .contextVersionsPruned,
                payload: .versionsPruned(
                    .init(
                        contextId: head.id,
                        instanceId: instanceId,
                        name: name,
                        prunedFrom: oldest,
                        prunedTo: pruneTo,
                        retainedFrom: newOldest
                    )
                )
            )
            oldest = newOldest
        }
    }

    func rollbackContext(
        instanceId: String,
        name: String,
        target: Int64,
        description: String?,
        ctx: inout RecordContext
    ) throws {
        guard let head = try contextHead(instanceId: instanceId, name: name, ctx: ctx) else {
            _ = try instance(instanceId, ctx: ctx)
            throw CommandRejection(.notFound, "no context '\(name)' on instance '\(instanceId)'", field: "payload.name")
        }
        guard target >= head.oldest, target <= head.current, let data = try versionData(cid: head.cid, version: target)
        else {
            ctx.rollbackFailure = RollbackFailure(
                cid: head.cid,
                contextId: head.id,
                instanceId: instanceId,
                name: name,
                target: target
            )
            let why = target > head.current ? "does not exist" : "was pruned (oldest kept is \(head.oldest))"
            throw CommandRejection(.rollbackFailed, "version \(target) \(why)", field: "payload.target_version")
        }
        let newVersion = head.current + 1
        try appendVersion(
            head: head,
            instanceId: instanceId,
            name: name,
            text: data,
            description: description ?? "rollback to version \(target)",
            mode: "rollback",
            ctx: &ctx,
            rollback: target
        )
        ctx.emit(
            .contextRolledBack,
            [
                "context_id": .string(head.id), "instance_id": .string(instanceId), "name": .string(name),
                "target_version": .int(target), "new_version": .int(newVersion),
                "rollback_state": .string(RollbackState.success.rawValue),
            ]
        )
    }

    /// Records a failed rollback on the context (after the command's savepoint was undone).
    func recordRollbackFailure(_ f: RollbackFailure, ctx: inout RecordContext) throws {
        // A change without a new version: its time is the context's updated time until the
        // next version (see migration step 4).
        try db.run(
            """
            UPDATE agent_contexts SET rollback_pointer=?1, rollback_state='failed', touched_ms=?2,
                touched_version=(SELECT current_version FROM agent_context_heads WHERE cid=?3) WHERE cid=?3
            """,
            [.int(f.target), .int(ctx.time), .int(f.cid)]
        )
        ctx.emit(
            .contextRolledBack,
            [
                "context_id": .string(f.contextId), "instance_id": .string(f.instanceId), "name": .string(f.name),
                "target_version": .int(f.target), "new_version": .null,
                "rollback_state": .string(RollbackState.failed.rawValue),
            ]
        )
    }
}
