import AgentCoreModel

/// What one `apply` did.
public struct ApplySummary: Sendable, Equatable {
    /// Records applied with their result events (including idempotent re-answers).
    public var applied = 0
    /// Records answered with `command.rejected`.
    public var rejected = 0
    /// Records sent to the dead-letter topic.
    public var deadLettered = 0
    /// Records skipped because the store had applied them already.
    public var skipped = 0
    /// Events and dead letters written to the outbox.
    public var outputs = 0
    /// `applied` and `rejected` by the record's `type` (as sent; "unknown" when it names no
    /// command type), for metrics.
    public var byType: [String: Int] = [:]
    /// `rejected` by rejection code.
    public var rejectedByCode: [String: Int] = [:]
    /// `deadLettered` by reason.
    public var deadLettersByReason: [String: Int] = [:]

    public init() {}
}

/// One record to publish on an output topic.
public struct OutboxRecord: Sendable, Equatable {
    /// The `results` row it belongs to (one row may hold several records).
    public var seq: Int64
    public var topic: OutputTopic
    public var key: [UInt8]?
    public var value: [UInt8]
    public var eventId: String
}

/// An output built while applying one record.
struct Outgoing: Sendable {
    var topic: OutputTopic
    /// The record key: the workspace id for events, the original key for dead letters.
    var key: [UInt8]?
    var body: Body

    /// The canonical JSON and its id, or the parts of an event to be serialised later (off
    /// the applying thread, see `ResultRenderer`); both give the same bytes.
    enum Body: Sendable {
        case json([UInt8], id: String)
        case event(EventParts)
    }

    init(topic: OutputTopic, key: [UInt8]?, value: [UInt8], eventId: String) {
        self.init(topic: topic, key: key, body: .json(value, id: eventId))
    }

    init(topic: OutputTopic, key: [UInt8]?, body: Body) {
        self.topic = topic
        self.key = key
        self.body = body
    }

    /// The event's id (spelled out on demand for an event not serialised yet).
    var eventId: String {
        switch body {
        case .json(_, let id): return id
        case .event(let e): return e.id
        }
    }

    /// Canonical JSON of the event or dead letter; `id` is `eventId`, when the caller has it.
    func value(id: String? = nil) -> [UInt8] {
        switch body {
        case .json(let bytes, _): return bytes
        case .event(let e): return e.encode(id: id ?? e.id)
        }
    }

    /// `value(id:)` appended to `out`.
    func writeValue(id: String, to out: inout [UInt8]) {
        switch body {
        case .json(let bytes, _): out.append(contentsOf: bytes)
        case .event(let e): e.write(id: id, to: &out)
        }
    }
}

/// Where an input record sits; its outputs' ids are derived from it (`Event.id`).
struct RecordPosition: Sendable {
    var topic: String
    var partition: Int32
    var offset: Int64

    init(_ record: borrowing InputRecord) {
        topic = record.topic
        partition = record.partition
        offset = record.offset
    }

    func eventId(_ index: Int) -> String { Event.id(topic: topic, partition: partition, offset: offset, index: index) }
}

/// Everything `Event.encode` needs. The id is kept as the numbers it is made of and
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
        Event.encode(
            id: id,
            type: type,
            commandId: commandId,
            workspaceId: workspaceId,
            projectId: projectId,
            correlationId: correlationId,
            occurredAtMillis: occurredAtMillis,
            writePayload: payload.write
        )
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

/// An event's payload: any pairs, or the fields of the two events every `context.write`
/// emits, kept as plain values (no arrays or JSON values built on the applying thread) and
/// written straight to canonical JSON when the row is rendered.
enum EventPayload: Sendable {
    case pairs([(String, JSONValue)])
    case versionCreated(VersionCreated)
    case versionsPruned(VersionsPruned)

    struct VersionCreated: Sendable {
        var byteSize: Int64
        var contextId: String
        var createdBy: String
        var description: String?
        var instanceId: String
        var mode: String
        var name: String
        var parentVersion: Int64?
        var version: Int64
    }

    struct VersionsPruned: Sendable {
        var contextId: String
        var instanceId: String
        var name: String
        var prunedFrom: Int64
        var prunedTo: Int64
        var retainedFrom: Int64
    }

    /// Writes the payload object, keys in sorted order.
    func write(to out: inout [UInt8]) {
        var w = PayloadWriter()
        switch self {
        case .pairs(let pairs):
            Event.writePayload(pairs, to: &out)
            return
        case .versionCreated(let v):
            w.int("byte_size", v.byteSize, &out)
            w.string("context_id", v.contextId, &out)
            w.string("created_by", v.createdBy, &out)
            w.string("description", v.description, &out)
            w.string("instance_id", v.instanceId, &out)
            w.string("mode", v.mode, &out)
            w.string("name", v.name, &out)
            w.int("parent_version", v.parentVersion, &out)
            w.int("version", v.version, &out)
        case .versionsPruned(let p):
            w.string("context_id", p.contextId, &out)
            w.string("instance_id", p.instanceId, &out)
            w.string("name", p.name, &out)
            w.int("pruned_from", p.prunedFrom, &out)
            w.int("pruned_to", p.prunedTo, &out)
            w.int("retained_from", p.retainedFrom, &out)
        }
        w.end(&out)
    }
}
