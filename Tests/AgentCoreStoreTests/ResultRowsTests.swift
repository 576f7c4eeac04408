import AgentCoreModel
import Testing

@testable import AgentCoreStore

@Suite struct ResultRowsTests {
    static func event(
        _ id: String, _ type: EventType, command: String?, workspace: String, project: String?, correlation: String?,
        at millis: Int64, _ payload: [(String, JSONValue)]
    ) -> Outgoing {
        let parts = EventParts(
            id: id, type: type, commandId: command, workspaceId: workspace, projectId: project, correlationId: correlation,
            occurredAtMillis: millis, payload: .pairs(payload))
        return Outgoing(topic: type.topic, key: Array(workspace.utf8), body: .event(parts), eventId: id)
    }

    static func published(_ outputs: [Outgoing]) -> [[String]] {
        outputs.map { [$0.topic.rawValue, $0.eventId, $0.key.map { String(decoding: $0, as: UTF8.self) } ?? "<nil>", String(decoding: $0.value, as: UTF8.self)] }
    }

    /// A row of every kind of output reads back as exactly the records that would have
    /// been published from the outputs built in memory.
    @Test func rowsReadBackAsTheRecordsBuilt() throws {
        let outputs: [Outgoing] = [
            Self.event(
                "agentcore.context-writes/3/1234/0", .contextVersionCreated, command: "c-1", workspace: "ws-ü", project: "p1",
                correlation: "corr\t1", at: 1_767_225_600_123, [("version", .int(7)), ("description", .null), ("name", "n\"1")]),
            Self.event(
                "agentcore.context-writes/3/1234/1", .contextVersionsPruned, command: "c-1", workspace: "ws-ü", project: "p1",
                correlation: "corr\t1", at: 1_767_225_600_123, [("pruned_to", .int(2))]),
            // A liveness event: another workspace, no command, a negative (clamped) time.
            Self.event(
                "agentcore.commands/3/99/2", .instanceStatusChanged, command: nil, workspace: "other", project: nil,
                correlation: nil, at: -62_135_596_800_000, [("to", "offline")]),
            // An id whose index has a leading zero cannot be rebuilt from a number: kept whole.
            Self.event(
                "odd/07", .instanceHeartbeat, command: "c-2", workspace: "ws-ü", project: "p1", correlation: nil, at: 5, []),
            Outgoing(topic: .dlq, key: nil, value: Array(#"{"reason":"invalid_json"}"#.utf8), eventId: "agentcore.commands/3/100/0"),
            Outgoing(topic: .dlq, key: [0, 255, 9, 10], value: Array("{}".utf8), eventId: "x"),
        ]
        let row = PartitionStore.encodeResult(outputs)
        #expect(row.first == 2)
        let back = try PartitionStore.decodeResult(row, command: "t")
        #expect(Self.published(back) == Self.published(outputs))
        // Read back and written again (an idempotent re-answer copies outputs read from a row).
        #expect(PartitionStore.encodeResult(back) == row)
        // Shared envelope strings are written once: smaller than the published JSON.
        #expect(row.count < outputs.reduce(0) { $0 + $1.value.count } * 2 / 3)
        #expect(throws: StoreError.self) { try PartitionStore.decodeResult(Array(row.dropLast(3)), command: "t") }
    }

    /// Rows written by the first format (tab-separated lines) are still read.
    @Test func formatOneRowsAreStillRead() throws {
        let v1 = Array("status\tagentcore.commands/0/5/0\t777331\t{\"a\":1}\ndlq\tagentcore.commands/0/6/0\t-\t{}\n".utf8)
        let back = try PartitionStore.decodeResult(v1, command: "t")
        #expect(Self.published(back) == [
            ["status", "agentcore.commands/0/5/0", "ws1", #"{"a":1}"#], ["dlq", "agentcore.commands/0/6/0", "<nil>", "{}"],
        ])
    }
}
