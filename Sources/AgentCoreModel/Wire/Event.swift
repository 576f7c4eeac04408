/// The event types of wire contract v1.
public enum EventType: String, Sendable, CaseIterable, Codable {
    case definitionRegistered = "definition.registered"
    case definitionUpdated = "definition.updated"
    case definitionDisabled = "definition.disabled"
    case instanceSpawned = "instance.spawned"
    case instanceStatusChanged = "instance.status_changed"
    case instanceConfigured = "instance.configured"
    case instanceHeartbeat = "instance.heartbeat"
    case instanceRemoved = "instance.removed"
    case contextCreated = "context.created"
    case contextVersionCreated = "context.version_created"
    case contextRolledBack = "context.rolled_back"
    case contextVersionsPruned = "context.versions_pruned"
    case commandRejected = "command.rejected"
    case agentMessageDelivered = "agent.message_delivered"

    /// Instance heartbeats go to the heartbeats topic; everything else to status.
    public var topic: OutputTopic { self == .instanceHeartbeat ? .heartbeats : .status }
}

/// The logical output topics; names are `<prefix>.<rawValue>`.
public enum OutputTopic: String, Sendable, CaseIterable {
    case status, heartbeats, dlq
}

/// The event envelope, `agentcore.event/v1`.
public struct Event: Sendable, Equatable {
    public static let schema = "agentcore.event/v1"

    /// Derived from the input record: `<topic>/<partition>/<offset>/<index>`.
    public var id: String
    public var type: EventType
    /// The command that caused it; nil for events of the liveness sweep.
    public var commandId: String?
    public var workspaceId: String
    public var projectId: String?
    public var correlationId: String?
    /// The input record's timestamp, milliseconds since the epoch.
    public var occurredAtMillis: Int64
    public var payload: [String: JSONValue]

    public init(
        id: String,
        type: EventType,
        commandId: String?,
        workspaceId: String,
        projectId: String?,
        correlationId: String? = nil,
        occurredAtMillis: Int64,
        payload: [String: JSONValue]
    ) {
        self.id = id
        self.type = type
        self.commandId = commandId
        self.workspaceId = workspaceId
        self.projectId = projectId
        self.correlationId = correlationId
        self.occurredAtMillis = occurredAtMillis
        self.payload = payload
    }

    public static func id(topic: String, partition: Int32, offset: Int64, index: Int) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(topic.utf8.count + 32)
        out.append(contentsOf: topic.utf8)
        out.append(UInt8(ascii: "/"))
        JSONValue.writeInt(Int64(partition), to: &out)
        out.append(UInt8(ascii: "/"))
        JSONValue.writeInt(offset, to: &out)
        out.append(UInt8(ascii: "/"))
        JSONValue.writeInt(Int64(index), to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "schema": .string(Self.schema), "id": .string(id), "type": .string(type.rawValue),
            "command_id": commandId.map(JSONValue.string) ?? .null, "workspace_id": .string(workspaceId),
            "occurred_at": .string(Timestamp.iso8601(millis: occurredAtMillis)), "payload": .object(payload),
        ]
        if let projectId { o["project_id"] = .string(projectId) }
        if let correlationId { o["correlation_id"] = .string(correlationId) }
        return .object(o)
    }

    /// Canonical JSON of `json`, written directly (the envelope's keys in sorted order)
    /// rather than through a dictionary: this is on every worker's hot path.
    public var bytes: [UInt8] {
        Self.encode(
            id: id,
            type: type,
            commandId: commandId,
            workspaceId: workspaceId,
            projectId: projectId,
            correlationId: correlationId,
            occurredAtMillis: occurredAtMillis,
            payload: payload.map { ($0.key, $0.value) }
        )
    }

    /// The canonical bytes of an event from its parts, the payload given as pairs (any
    /// order; sorted here, keys must be unique) so that hot paths need not build a dictionary.
    public static func encode(
        id: String,
        type: EventType,
        commandId: String?,
        workspaceId: String,
        projectId: String?,
        correlationId: String?,
        occurredAtMillis: Int64,
        payload: [(String, JSONValue)]
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        write(
            id: id,
            type: type,
            commandId: commandId,
            workspaceId: workspaceId,
            projectId: projectId,
            correlationId: correlationId,
            occurredAtMillis: occurredAtMillis,
            writePayload: { writePayload(payload, to: &$0) },
            to: &out
        )
        return out
    }

    /// Writes `payload` as a canonical JSON object (any order; sorted here, keys must be unique).
    public static func writePayload(_ payload: [(String, JSONValue)], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        // Hot call sites list their pairs in key order already: check before sorting.
        let inOrder = payload.indices.dropFirst().allSatisfy { JSONValue.utf8Less(payload[$0 - 1].0, payload[$0].0) }
        for (i, (k, v)) in (inOrder ? payload : payload.sorted(by: { JSONValue.utf8Less($0.0, $1.0) })).enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONValue.writeString(k, to: &out)
            out.append(UInt8(ascii: ":"))
            v.write(to: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    /// The canonical bytes of an event whose payload object `writePayload` writes in
    /// canonical form (keys sorted, no spaces; see `PayloadWriter`), appended to `out` (a
    /// results row is written in one buffer).
    public static func write(
        id: String,
        type: EventType,
        commandId: String?,
        workspaceId: String,
        projectId: String?,
        correlationId: String?,
        occurredAtMillis: Int64,
        writePayload: (inout [UInt8]) -> Void,
        to out: inout [UInt8]
    ) {
        func key(_ k: StaticString, first: Bool = false) {
            if !first { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: UnsafeBufferPointer(start: k.utf8Start, count: k.utf8CodeUnitCount))
            out.append(contentsOf: "\":".utf8)
        }
        out.append(UInt8(ascii: "{"))
        key("command_id", first: true)
        if let commandId { JSONValue.writeString(commandId, to: &out) } else { out.append(contentsOf: "null".utf8) }
        if let correlationId {
            key("correlation_id")
            JSONValue.writeString(correlationId, to: &out)
        }
        key("id")
        JSONValue.writeString(id, to: &out)
        key("occurred_at")
        out.append(UInt8(ascii: "\""))
        Timestamp.writeISO8601(millis: occurredAtMillis, to: &out)
        out.append(UInt8(ascii: "\""))
        key("payload")
        writePayload(&out)
        if let projectId {
            key("project_id")
            JSONValue.writeString(projectId, to: &out)
        }
        key("schema")
        JSONValue.writeString(schema, to: &out)
        key("type")
        JSONValue.writeString(type.rawValue, to: &out)
        key("workspace_id")
        JSONValue.writeString(workspaceId, to: &out)
        out.append(UInt8(ascii: "}"))
    }
}

/// Writes a canonical JSON object field by field, for payloads whose keys the caller
/// knows in sorted order (`Event.write(…writePayload:to:)`).
public struct PayloadWriter: ~Copyable {
    private var first = true

    public init() {}

    private mutating func key(_ k: StaticString, _ out: inout [UInt8]) {
        out.append(first ? UInt8(ascii: "{") : UInt8(ascii: ","))
        first = false
        out.append(UInt8(ascii: "\""))
        out.append(contentsOf: UnsafeBufferPointer(start: k.utf8Start, count: k.utf8CodeUnitCount))
        out.append(contentsOf: "\":".utf8)
    }

    public mutating func int(_ k: StaticString, _ v: Int64?, _ out: inout [UInt8]) {
        key(k, &out)
        if let v { JSONValue.writeInt(v, to: &out) } else { out.append(contentsOf: "null".utf8) }
    }

    public mutating func string(_ k: StaticString, _ v: String?, _ out: inout [UInt8]) {
        key(k, &out)
        if let v { JSONValue.writeString(v, to: &out) } else { out.append(contentsOf: "null".utf8) }
    }

    public consuming func end(_ out: inout [UInt8]) {
        out.append(contentsOf: first ? "{}".utf8 : "}".utf8)
    }
}

/// Drops nil entries so optional payload fields are absent rather than null.
public func compactPayload(_ pairs: KeyValuePairs<String, JSONValue?>) -> [String: JSONValue] {
    var o: [String: JSONValue] = [:]
    for (k, v) in pairs { if let v { o[k] = v } }
    return o
}
