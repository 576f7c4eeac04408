import AgentCoreModel

extension PartitionStore {
    /// Applies a batch in one transaction: skips records at or below the applied offset of
    /// their topic, turns each other record into events, a rejection or a dead letter,
    /// writes those to the outbox and advances the applied offsets. All or nothing: on any
    /// error nothing of the batch remains and the error is rethrown.
    ///
    /// Deterministic: reads only the store and the records (bytes, topic, partition,
    /// offset, timestamp, headers).
    @discardableResult
    public func apply(_ records: [InputRecord]) throws -> ApplySummary {
        try checkpointBetweenBatches()
        var before: BatchState?
        var persisted: Int64?
        do {
            let summary = try db.inTransaction {
                // Positions are re-read under the write lock when another connection
                // committed since: should two workers briefly hold the same partition (a
                // zombie after a rebalance), neither applies a record twice.
                try refreshPositionsIfChanged()
                try countPrunedPending()
                before = batchState
                let summary = try applyInTransaction(records, before: batchState)
                // An acknowledgement kept in memory (`acknowledge(persist: false)`) rides
                // along: `store_meta`'s page is in this commit anyway.
                if publishedThrough > publishedThroughOnDisk {
                    try writePublishedThrough(publishedThrough)
                    persisted = publishedThrough
                }
                return summary
            }
            if let persisted { publishedThroughOnDisk = max(publishedThroughOnDisk, persisted) }
            // Committed: its rows can be published from memory.
            unpublished.append(stagedOutbox)
            stagedOutbox.removeAll(keepingCapacity: true)
            return summary
        } catch {
            stagedOutbox.removeAll(keepingCapacity: true)
            capture?.reset()
            if let before {
                batchState = before
                discardBatchCaches()
            }
            throw error
        }
    }

    /// The batch's work inside its transaction; `before` is the state it started from.
    private func applyInTransaction(_ records: [InputRecord], before: BatchState) throws -> ApplySummary {
        var summary = ApplySummary()
        capture?.reset()
        let pipeline = BatchPipeline(
            records,
            decoder: decoder,
            partitionCount: options.partitionCount,
            helperThreads: options.helperThreads,
            helperCompressor: helperCompressor,
            applyingCompressor: compressor
        )
        defer {
            pipeline.close()
            pending = PendingResults(firstSeq: Int64.max)
        }
        pending = PendingResults(firstSeq: nextSeq, renderer: pipeline.renderer)
        lastRenderer = pipeline.renderer
        if capture != nil && resultBlocksFrom == nil { try settleResultBlocksFrom() }
        // The applied offset of the topic of the records at hand, written back to
        // `appliedOffsets` when the topic changes (a batch is mostly one topic).
        var topic: String?
        var last: Int64?
        // Records are read in place (an element copied out of the array costs a count on
        // each of its buffers, twice).
        try records.withUnsafeBufferPointer { records in
            for i in records.indices {
                let d = pipeline.take(i)
                if records[i].topic != topic {
                    if let topic, let last { appliedOffsets[topic] = last }
                    topic = records[i].topic
                    last = appliedOffsets[records[i].topic]
                }
                if let last, records[i].offset <= last {
                    summary.skipped += 1
                    continue
                }
                try beforeRecord?(records[i])
                try applyOne(records[i], decoded: d, summary: &summary)
                last = records[i].offset
            }
        }
        if let topic, let last { appliedOffsets[topic] = last }
        try writePendingResults()
        if !settingsChecked { try recordSettings() }
        for (topic, offset) in appliedOffsets where before.appliedOffsets[topic] != offset {
            try db.run(
                "INSERT INTO applied_offsets(topic, offset) VALUES(?, ?) ON CONFLICT(topic) DO UPDATE SET offset = excluded.offset",
                [.text(topic), .int(offset)]
            )
        }
        try sweepPrunedVersions(atLeast: 2 * records.count)
        if prunedPending != before.prunedPending || !prunedPendingRecorded {
            try setMeta("versions_pruned_pending", .int(prunedPending))
        }
        if let t = streamTime, t != before.streamTime {
            try setMeta("stream_time", .int(t))
        }
        try recordCapturedChanges()
        return summary
    }

    /// The in-memory state a batch changes, taken before it and put back as a whole when
    /// it fails (the transaction's rollback undoes the file; this undoes the memory).
    struct BatchState: Equatable {
        var appliedOffsets: [String: Int64]
        var streamTime: Int64?
        var nextSeq: Int64
        var prunedPending: Int64
    }

    var batchState: BatchState {
        get { BatchState(appliedOffsets: appliedOffsets, streamTime: streamTime, nextSeq: nextSeq, prunedPending: prunedPending) }
        set {
            appliedOffsets = newValue.appliedOffsets
            streamTime = newValue.streamTime
            nextSeq = newValue.nextSeq
            prunedPending = newValue.prunedPending
        }
    }

    /// Caches that a failed batch may have filled with rows it wrote: rebuilt from the
    /// tables when next needed.
    func discardBatchCaches() {
        positionsVersion = nil
        // The retention filter may have run mid-batch: the index is rebuilt from the table.
        commandIndexLoaded = false
        settingsChecked = false
        settingsChange = nil
        headCache.removeAll()
        knownProjects.removeAll()
    }

    /// Records the apply settings in `store_meta` on the first batch after opening and
    /// notes a change (`settingsChange`). Only `apply` writes it: a reader (the CLI's
    /// `inspect`) opens stores with default options and must not record them.
    private func recordSettings() throws {
        let current = options.applySettings
        let previous = try db.rows("SELECT value FROM store_meta WHERE key='apply_settings'").first?.first?.text
        if previous != current {
            try setMeta("apply_settings", .text(current))
            if let previous { settingsChange = (from: previous, to: current) }
        }
        settingsChecked = true
    }

    private func applyOne(_ record: borrowing InputRecord, decoded: Decoded, summary: inout ApplySummary) throws {
        var ctx = RecordContext(record)
        let previousStreamTime = streamTime
        if ctx.time > (streamTime ?? Int64.min) { streamTime = ctx.time }
        switch decoded {
        case .deadLetter(let err):
            let id = ctx.position.eventId(0)
            ctx.outputs.append(
                Outgoing(
                    topic: .dlq,
                    key: record.key,
                    value: DeadLetter.json(for: record, id: id, error: err).canonicalBytes,
                    eventId: id
                )
            )
            ctx.nextIndex = 1
            summary.deadLettered += 1
            summary.deadLettersByReason[err.reason.rawValue, default: 0] += 1
        case .command(let envelope, let command, let replica, let prepared):
            ctx.envelope = envelope
            ctx.hkey = prepared.hkey
            ctx.headKey = prepared.headKey
            ctx.commandType = prepared.commandType
            try handle(envelope: envelope, command: command, replica: replica, ctx: &ctx, summary: &summary)
            summary.byType[prepared.commandType?.rawValue ?? "unknown", default: 0] += 1
        }
        if let now = streamTime, Self.sweepDue(previous: previousStreamTime, now: now) {
            try sweepLiveness(now: now, ctx: &ctx)
        }
        try writeResult(ctx)
        summary.outputs += ctx.outputs.count
    }

    /// The liveness sweep runs when stream time enters a new second: deterministic (it
    /// depends only on record timestamps) and cheap (not once per record).
    static func sweepDue(previous: Int64?, now: Int64) -> Bool {
        guard let previous else { return true }
        return now / 1000 > previous / 1000
    }

    /// Header a producer sets on the copies of a definition command it broadcasts to the
    /// partitions other than the key's own: they update the registry without events.
    public static let replicaHeader = CommandDecoder.replicaHeader

    /// Turns a record into a command or a dead letter. Depends only on the record, so
    /// `DecodeAhead` runs it on another thread.
    /// `fastPath: false` (tests) always takes the general path.
    /// A record decoded (`CommandDecoder.decode`: every rule of the contract) plus what the
    /// store works out from the command alone, done off the applying thread.
    static func decode(_ record: InputRecord, decoder: CommandDecoder, partitionCount: Int32?, fastPath: Bool = true) -> Decoded {
        switch decoder.decode(record, partitionCount: partitionCount, fastPath: fastPath) {
        case .deadLetter(let error):
            return .deadLetter(error)
        case .command(let envelope, let command, let replica):
            var prepared = Prepared(hkey: Int64(bitPattern: FNV1a64.hash([envelope.workspaceId, envelope.id])))
            prepared.commandType = CommandType(rawValue: envelope.type)
            switch command {
            case .success(.contextWrite(let id, let name, _, _, _, _)), .success(.contextRollback(let id, let name, _, _)):
                prepared.headKey = Self.headKey(
                    workspace: envelope.workspaceId,
                    project: envelope.projectId ?? "",
                    instanceId: id,
                    name: name
                )
            default: break
            }
            return .command(envelope, command, replica: replica, prepared: prepared)
        }
    }

    private func handle(
        envelope: CommandEnvelope,
        command: Result<Command, CommandRejection>,
        replica: Bool,
        ctx: inout RecordContext,
        summary: inout ApplySummary
    ) throws {
        if let previous = try processedResult(hkey: ctx.hkey!, envelope: envelope) {
            ctx.outputs = previous
            ctx.repeated = true
            summary.applied += 1
            return
        }
        // A savepoint per command: a refusal midway leaves no partial change behind.
        let projectKnown = envelope.projectId.map { knownProjects.contains(envelope.workspaceId, $0) } ?? false
        let atomic = needsSavepoint(command, projectKnown: projectKnown)
        let prunedBefore = prunedPending
        do {
            func run(_ ctx: inout RecordContext) throws {
                let cmd = try command.get()
                if let type = ctx.commandType, type.stream != ctx.stream {
                    throw CommandRejection(
                        .wrongTopic,
                        "\(type.rawValue) belongs on the \(type.stream.rawValue) topic",
                        field: "type"
                    )
                }
                if let project = envelope.projectId, !projectKnown {
                    try createProject(workspace: envelope.workspaceId, project: project, time: ctx.time)
                }
                try execute(cmd, ctx: &ctx)
            }
            if atomic { try db.inSavepoint("command") { try run(&ctx) } } else { try run(&ctx) }
            summary.applied += 1
        } catch let error where Self.isRejection(error) {
            let rejection = Self.rejection(from: error)
            prunedPending = prunedBefore
            // The savepoint undid the project rows this command created, if it did (a
            // command into a project not known yet always has a savepoint); other pairs stay.
            if !projectKnown, let project = envelope.projectId { knownProjects.remove(envelope.workspaceId, project) }
            ctx.outputs.removeAll()
            ctx.nextIndex = 0
            if let rb = ctx.rollbackFailure { try recordRollbackFailure(rb, ctx: &ctx) }
            ctx.emit(
                .commandRejected,
                [
                    "code": .string(rejection.code.rawValue), "message": .string(rejection.message),
                    "field": rejection.field.map(JSONValue.string) ?? .null, "command_type": .string(envelope.type),
                ]
            )
            summary.rejected += 1
            summary.rejectedByCode[rejection.code.rawValue, default: 0] += 1
        }
        if replica { ctx.outputs.removeAll() }
    }

    /// Whether a command needs its own savepoint. `context.write` into a known project does
    /// not (a savepoint costs about a fifth of the write): it checks everything before its
    /// first write, and its only write that can fail as a refusal (creating the context
    /// row, a derived-id collision) is its first, which SQLite undoes by itself.
    func needsSavepoint(_ command: Result<Command, CommandRejection>, projectKnown: Bool) -> Bool {
        guard case .success(.contextWrite) = command else { return true }
        return !projectKnown
    }

    /// Refusals, and constraint violations (a derived id colliding with another's): both are
    /// answers to the command, not failures of the store.
    static func isRejection(_ error: any Error) -> Bool {
        if error is CommandRejection { return true }
        if let e = error as? SQLiteError { return e.code & 0xFF == 19 }  // SQLITE_CONSTRAINT
        return false
    }

    static func rejection(from error: any Error) -> CommandRejection {
        if let r = error as? CommandRejection { return r }
        return CommandRejection(.alreadyExists, "conflicts with an existing object (derived id collision)")
    }

    private func execute(_ command: Command, ctx: inout RecordContext) throws {
        switch command {
        case .definitionRegister(let f): try registerDefinition(f, ctx: &ctx)
        case .definitionUpdate(let f): try updateDefinition(f, ctx: &ctx)
        case .definitionDisable(let slug): try disableDefinition(slug, ctx: &ctx)
        case .instanceSpawn(let def, let name, let id, let config, let state):
            try spawnInstance(definition: def, name: name, instanceId: id, config: config, state: state, ctx: &ctx)
        case .instanceTransition(let id, let to, let reason, let error):
            try transitionInstance(id, to: to, reason: reason, error: error, ctx: &ctx)
        case .instanceHeartbeat(let id, let state): try heartbeatInstance(id, state: state, ctx: &ctx)
        case .instanceConfigure(let id, let config): try configureInstance(id, update: config, ctx: &ctx)
        case .instanceRemove(let id): try removeInstance(id, ctx: &ctx)
        case .contextWrite(let id, let name, let data, let description, let mode, let expected):
            try writeContext(
                instanceId: id,
                name: name,
                data: data,
                description: description,
                mode: mode,
                expectedVersion: expected,
                ctx: &ctx
            )
        case .contextRollback(let id, let name, let target, let description):
            try rollbackContext(instanceId: id, name: name, target: target, description: description, ctx: &ctx)
        case .agentMessage(let from, let to, let toProject, let body):
            try deliverMessage(from: from, to: to, toProject: toProject, body: body, ctx: &ctx)
        }
    }

    /// Workspaces and projects come into being with the first command that names them:
    /// creates their rows if missing (the pair is not in `knownProjects`).
    func createProject(workspace: String, project: String, time now: Int64) throws {
        try db.run("INSERT OR IGNORE INTO workspaces(id, created_ms) VALUES(?, ?)", [.text(workspace), .int(now)])
        try db.run(
            "INSERT OR IGNORE INTO projects(workspace_id, id, created_ms) VALUES(?, ?, ?)",
            [.text(workspace), .text(project), .int(now)]
        )
        knownProjects.insert(workspace, project)
    }

}

/// Workspace/project pairs known to have their rows (a cache; cleared whenever a command or
/// batch is undone). The last pair asked about is checked first: a partition's records
/// mostly come in runs of one workspace and project.
struct KnownProjects {
    private var pairs: Set<String> = []
    private var last: (workspace: String, project: String)?

    private static func key(_ workspace: String, _ project: String) -> String { workspace + "\u{0}" + project }

    mutating func contains(_ workspace: String, _ project: String) -> Bool {
        if let last, last.workspace == workspace, last.project == project { return true }
        guard pairs.contains(Self.key(workspace, project)) else { return false }
        last = (workspace, project)
        return true
    }

    mutating func insert(_ workspace: String, _ project: String) {
        if pairs.count >= 100_000 { pairs.removeAll() }
        pairs.insert(Self.key(workspace, project))
        last = (workspace, project)
    }

    mutating func remove(_ workspace: String, _ project: String) {
        pairs.remove(Self.key(workspace, project))
        if let last, last.workspace == workspace, last.project == project { self.last = nil }
    }

    mutating func removeAll() {
        pairs.removeAll()
        last = nil
    }
}
