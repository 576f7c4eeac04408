import AgentCoreModel

/// The state of applying one record: where ids come from and what it produced.
struct RecordContext {
    let position: RecordPosition
    let stream: CommandStream
    /// The record's timestamp, clamped to years 1…9999 (see `Timestamp.clamped`).
    let time: Int64
    var envelope: CommandEnvelope?
    /// The command's type and the head-cache key of the context it names (from `Prepared`).
    var commandType: CommandType?
    var headKey: HeadKey?
    /// The key of its events: the workspace id's bytes, made once per record.
    private var eventKey: [UInt8]?
    /// Idempotency key of the command (workspace + command id), nil for dead letters.
    var hkey: Int64?
    /// The command was seen before and answered from its recorded result.
    var repeated = false
    var outputs: [Outgoing] = []
    var nextIndex = 0
    /// Set by a rollback that must fail: recorded on the context after the command's
    /// savepoint is rolled back.
    var rollbackFailure: RollbackFailure?

    init(_ record: borrowing InputRecord) {
        position = RecordPosition(record)
        stream = record.stream
        time = Timestamp.clamped(record.timestampMillis)
    }
    var actor: String { envelope?.actor ?? "" }
    var workspace: String { envelope?.workspaceId ?? "" }
    var project: String { envelope?.projectId ?? "" }

    /// Adds an event caused by the record's command.
    mutating func emit(_ type: EventType, _ payload: KeyValuePairs<String, JSONValue>) {
        emit(type, pairs: payload.map { ($0.key, $0.value) })
    }

    mutating func emit(_ type: EventType, pairs: [(String, JSONValue)]) {
        emit(type, payload: .pairs(pairs), workspace: workspace, project: envelope?.projectId, commandId: envelope?.id)
    }

    mutating func emit(_ type: EventType, payload: EventPayload) {
        emit(type, payload: payload, workspace: workspace, project: envelope?.projectId, commandId: envelope?.id)
    }

    mutating func emit(
        _ type: EventType,
        pairs: [(String, JSONValue)],
        workspace: String,
        project: String?,
        commandId: String?
    ) {
        emit(type, payload: .pairs(pairs), workspace: workspace, project: project, commandId: commandId)
    }

    mutating func emit(
        _ type: EventType,
        payload: EventPayload,
        workspace: String,
        project: String?,
        commandId: String?
    ) {
        let parts = EventParts(
            source: position,
            index: nextIndex,
            type: type,
            commandId: commandId,
            workspaceId: workspace,
            projectId: project,
            correlationId: commandId == nil ? nil : envelope?.correlationId,
            occurredAtMillis: time,
            payload: payload
        )
        nextIndex += 1
        let key: [UInt8]
        if let eventKey, workspace == self.workspace {
            key = eventKey
        } else {
            key = Array(workspace.utf8)
            if workspace == self.workspace { eventKey = key }
        }
        outputs.append(Outgoing(topic: type.topic, key: key, body: .event(parts)))
    }
}

struct RollbackFailure {
    var cid: Int64
    var contextId: String
    var instanceId: String
    var name: String
    var target: Int64
}
