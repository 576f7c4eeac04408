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
                    byteSize: 400, contextId: contextId, createdBy: text, description: description, instanceId: text,
                    mode: "merge_patch", name: text, parentVersion: parent, version: Int64.max)),
            .versionsPruned(
                .init(contextId: contextId, instanceId: text, name: text, prunedFrom: -1, prunedTo: 0, retainedFrom: 1)),
        ]
        for payload in payloads {
            let parts = EventParts(
                topic: "t", partition: 0, offset: 1, index: 0, type: .contextVersionCreated, commandId: text,
                workspaceId: "ws", projectId: "p", correlationId: description, occurredAtMillis: 1_767_225_600_123,
                payload: payload)
            var generic = parts
            generic.payload = .pairs(payload.pairs)
            #expect(parts.id == "t/0/1/0")
            #expect(parts.encode(id: parts.id) == generic.encode(id: generic.id))
            var written: [UInt8] = []
            payload.write(to: &written)
            #expect(written == JSONValue.object(Dictionary(uniqueKeysWithValues: payload.pairs)).canonicalBytes)
        }
    }
}
