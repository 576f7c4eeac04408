import AgentCoreModel

/// The state of applying one record: where ids come from and what it produced.
struct RecordContext {
    let record: InputRecord
    var envelope: CommandEnvelope?
    /// Idempotency key of the command (workspace + command id), nil for dead letters.
    var hkey: Int64?
    /// Canonical bytes of a `replace` write's data, worked out while decoding.
    var canonicalData: [UInt8]?
    /// The command was seen before and answered from its recorded result.
    var repeated = false
    var outputs: [Outgoing] = []
    var nextIndex = 0
    /// Set by a rollback that must fail: recorded on the context after the command's
    /// savepoint is rolled back.
    var rollbackFailure: RollbackFailure?

    init(record: InputRecord) { self.record = record }

    /// The record's timestamp, clamped to years 1…9999 (see `Timestamp.clamped`).
    var time: Int64 { Timestamp.clamped(record.timestampMillis) }
    var actor: String { envelope?.actor ?? "" }
    var workspace: String { envelope?.workspaceId ?? "" }
    var project: String { envelope?.projectId ?? "" }

    /// Adds an event caused by the record's command.
    mutating func emit(_ type: EventType, _ payload: KeyValuePairs<String, JSONValue>) {
        emit(type, pairs: payload.map { ($0.key, $0.value) })
    }

    mutating func emit(_ type: EventType, pairs: [(String, JSONValue)]) {
        emit(type, pairs: pairs, workspace: workspace, project: envelope?.projectId, commandId: envelope?.id)
    }

    mutating func emit(
        _ type: EventType, pairs: [(String, JSONValue)], workspace: String, project: String?, commandId: String?
    ) {
        let id = Event.id(topic: record.topic, partition: record.partition, offset: record.offset, index: nextIndex)
        nextIndex += 1
        let parts = EventParts(
            id: id, type: type, commandId: commandId, workspaceId: workspace, projectId: project,
            correlationId: commandId == nil ? nil : envelope?.correlationId, occurredAtMillis: time, payload: pairs)
        outputs.append(Outgoing(topic: type.topic, key: Array(workspace.utf8), body: .event(parts), eventId: id))
    }
}

struct RollbackFailure {
    var cid: Int64
    var contextId: String
    var instanceId: String
    var name: String
    var target: Int64
}
