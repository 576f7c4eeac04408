import AgentCoreModel
import Testing

@testable import AgentCoreStore

@Suite struct HostileInputTests {
    @Test(arguments: [Int64.min, -62_167_219_200_001, -1, 0, Int64.max])
    func extremeRecordTimestampsAreClampedNotFatal(_ ts: Int64) throws {
        let f = try StoreFixture()
        let env = CommandEnvelope(
            id: "t",
            type: "definition.register",
            workspaceId: "ws1",
            projectId: nil,
            actor: "a",
            payload: ["slug": "d", "name": "D", "agent_type": "t"]
        )
        var good = f.record(env.bytes, key: "ws1", stream: .commands)
        good.timestampMillis = ts
        var bad = f.record(Array("junk".utf8), key: "ws1", stream: .commands)
        bad.timestampMillis = ts
        let summary = try f.store.apply([good, bad])
        #expect(summary.applied == 1 && summary.deadLettered == 1)
        let events = try f.store.outbox().filter { $0.topic == .status }.map { try Event(bytes: $0.value) }
        #expect(events.first?.occurredAtMillis == Timestamp.clamped(ts))
        #expect(f.store.streamTime == Timestamp.clamped(ts))
    }

    @Test func deadLettersCapCopiedHeaders() throws {
        let f = try StoreFixture()
        let headers = (0..<100).map { RecordHeader(key: "h\($0)", value: [UInt8](repeating: 0x41, count: 5_000)) }
        let r = f.record(Array("junk".utf8), key: "ws1", stream: .commands, headers: headers)
        try f.store.apply([r])
        let dl = try JSONParser.parse(try #require(try f.store.outbox().first).value)
        let copied = try #require(dl["headers"]?.arrayValue)
        #expect(copied.count == DeadLetter.maxHeaders)
        #expect(copied.allSatisfy { ($0["value_base64"]?.stringValue?.count ?? 0) <= (DeadLetter.maxHeaderValueBytes + 2) / 3 * 4 })
    }

    @Test func aDerivedIdCollisionIsRejectedNotFatal() throws {
        let f = try StoreFixture()
        try f.registerDefinition()
        _ = try f.spawn("i1")
        _ = try f.spawn("i2")
        // Plant a context whose derived id equals the one i1/"c" will get, as a hash
        // collision would.
        let id = PartitionStore.contextId(workspace: "ws1", project: "p1", instanceId: "i1", name: "c")
        try f.store.db.run(
            "INSERT INTO agent_contexts(id, workspace_id, project_id, instance_id, name, created_ms) VALUES(?, 'ws1', 'p1', 'i2', 'other', 0)",
            [.text(id)]
        )
        let ev = try f.send("context.write", ["instance_id": "i1", "name": "c", "data": 1])
        #expect(ev.rejection == "already_exists")
        #expect(try f.send("context.write", ["instance_id": "i1", "name": "d", "data": 1]).types.contains("context.version_created"))
    }
}
