import AgentCoreModel
import Testing

@testable import AgentCoreStore

@Suite struct EventPayloadTests {
    /// The fields of the two `context.write` events, written straight to JSON, give the
    /// same bytes as the generic pairs path (which sorts and escapes), whatever the values.
    @Test(arguments: [
        ("plain", "ctx_1", nil as String?, nil as Int64?),
        ("quote \" back\\slash \u{1} tab\t é 🎉", "ctx_\u{7f}", "a \"description\"\n", 41 as Int64?),
    ])
    func hotPayloadsMatchThePairsEncoding(text: String, contextId: String, description: String?, parent: Int64?) {
        let payloads: [EventPayload] = [
            .versionCreated(
                .init(
                    byteSize: 400,
                    contextId: contextId,
                    createdBy: text,
                    description: description,
                    instanceId: text,
                    mode: "merge_patch",
                    name: text,
                    parentVersion: parent,
                    version: Int64.max
                )
            ),
            .versionsPruned(
                .init(contextId: contextId, instanceId: text, name: text, prunedFrom: -1, prunedTo: 0, retainedFrom: 1)
            ),
        ]
        for payload in payloads {
            let parts = EventParts(
                source: RecordPosition(
                    InputRecord(stream: .contextWrites, topic: "t", partition: 0, offset: 1, timestampMillis: 0, key: nil, value: nil)
                ),
                index: 0,
                type: .contextVersionCreated,
                commandId: text,
                workspaceId: "ws",
                projectId: "p",
                correlationId: description,
                occurredAtMillis: 1_767_225_600_123,
                payload: payload
            )
            let generic = parts.with(payload: .pairs(payload.pairs))
            #expect(parts.id == "t/0/1/0")
            #expect(parts.encode(id: parts.id) == generic.encode(id: generic.id))
            var written: [UInt8] = []
            payload.write(to: &written)
            #expect(written == JSONValue.object(Dictionary(uniqueKeysWithValues: payload.pairs)).canonicalBytes)
        }
    }
}

extension EventPayload {
    /// The payload as pairs, the reference the fast writer is checked against.
    var pairs: [(String, JSONValue)] {
        switch self {
        case .pairs(let p): return p
        case .versionCreated(let v):
            return [
                ("byte_size", .int(v.byteSize)), ("context_id", .string(v.contextId)), ("created_by", .string(v.createdBy)),
                ("description", v.description.map(JSONValue.string) ?? .null), ("instance_id", .string(v.instanceId)),
                ("mode", .string(v.mode)), ("name", .string(v.name)),
                ("parent_version", v.parentVersion.map(JSONValue.int) ?? .null), ("version", .int(v.version)),
            ]
        case .versionsPruned(let p):
            return [
                ("context_id", .string(p.contextId)), ("instance_id", .string(p.instanceId)), ("name", .string(p.name)),
                ("pruned_from", .int(p.prunedFrom)), ("pruned_to", .int(p.prunedTo)), ("retained_from", .int(p.retainedFrom)),
            ]
        }
    }
}
