import AgentCoreModel

/// Everything `Event.write` needs. The id is kept as the numbers it is made of and
/// spelled out when the event is serialised, off the applying thread. A class: an output
/// is copied and destroyed on two threads, and one reference costs one atomic count where
/// the dozen strings inside would cost a dozen.
final class EventParts: Sendable {
    let source: RecordPosition
    let index: Int
    let type: EventType
    let commandId: String?
    let workspaceId: String
    let projectId: String?
    let correlationId: String?
    let occurredAtMillis: Int64
    let payload: EventPayload

    init(
        source: RecordPosition,
        index: Int,
        type: EventType,
        commandId: String?,
        workspaceId: String,
        projectId: String?,
        correlationId: String?,
        occurredAtMillis: Int64,
        payload: EventPayload
    ) {
        self.source = source
        self.index = index
        self.type = type
        self.commandId = commandId
        self.workspaceId = workspaceId
        self.projectId = projectId
        self.correlationId = correlationId
        self.occurredAtMillis = occurredAtMillis
        self.payload = payload
    }

    /// The same event with another payload.
    func with(payload: EventPayload) -> EventParts {
        EventParts(
            source: source,
            index: index,
            type: type,
            commandId: commandId,
            workspaceId: workspaceId,
            projectId: projectId,
            correlationId: correlationId,
            occurredAtMillis: occurredAtMillis,
            payload: payload
        )
    }

    var id: String { source.eventId(index) }

    func encode(id: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        write(id: id, to: &out)
        return out
    }

    func write(id: String, to out: inout [UInt8]) {
        Event.write(
            id: id,
            type: type,
            commandId: commandId,
            workspaceId: workspaceId,
            projectId: projectId,
            correlationId: correlationId,
            occurredAtMillis: occurredAtMillis,
            writePayload: payload.write,
            to: &out
        )
    }
}
