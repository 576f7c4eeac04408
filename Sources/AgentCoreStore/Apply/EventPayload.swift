import AgentCoreModel

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
