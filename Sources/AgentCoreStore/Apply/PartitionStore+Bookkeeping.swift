import AgentCoreModel

extension PartitionStore {
    /// The outputs recorded for an earlier command with the same workspace and id, if any.
    func processedResult(hkey: Int64, envelope: CommandEnvelope) throws -> [Outgoing]? {
        let s = try db.statement("SELECT workspace_id, command_id, result FROM processed_commands WHERE hkey=?")
        try s.bind(.int(hkey), at: 1)
        guard try s.step(), s.text(0) == envelope.workspaceId, s.text(1) == envelope.id else { return nil }
        guard case .array(let items) = try JSONParser.parse(s.bytes(2)) else {
            throw StoreError("corrupt_store", "processed_commands row for \(envelope.id) is not an array")
        }
        return items.compactMap { item in
            guard let t = item["topic"]?.stringValue, let topic = OutputTopic(rawValue: t),
                let key = item["key"]?.stringValue, let value = item["value"]?.stringValue,
                let id = item["event_id"]?.stringValue
            else { return nil }
            return Outgoing(topic: topic, key: Array(key.utf8), value: value, eventId: id)
        }
    }

    func rememberResult(hkey: Int64, envelope: CommandEnvelope, outputs: [Outgoing]) throws {
        let result = JSONValue.array(
            outputs.map {
                ["topic": .string($0.topic.rawValue), "key": .string(String(decoding: $0.key ?? [], as: UTF8.self)), "value": .string($0.value), "event_id": .string($0.eventId)]
            })
        let s = try db.statement(
            "INSERT OR REPLACE INTO processed_commands(hkey, workspace_id, command_id, seq, result) VALUES(?,?,?,?,?)")
        try s.bind(.int(hkey), at: 1)
        try s.bind(.text(envelope.workspaceId), at: 2)
        try s.bind(.text(envelope.id), at: 3)
        try s.bind(.int(commandSequence), at: 4)
        try s.bind(.text(result.canonicalString), at: 5)
        _ = try s.step()
        commandSequence += 1
        // Every tenth of the retention (counted in commands, so replays sweep at the same
        // commands), forget ids older than the retention.
        let every = Int64(max(1, options.idempotencyRetention / 10))
        if commandSequence % every == 0 {
            try db.run(
                "DELETE FROM processed_commands WHERE seq < ?", [.int(commandSequence - Int64(options.idempotencyRetention))])
            try db.run(
                "INSERT INTO store_meta(key, value) VALUES('command_seq', ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                [.int(commandSequence)])
        }
    }

    /// Instances whose last sign of life is older than the timeout in stream time go
    /// offline, in a fixed order, with events that carry the triggering record's ids.
    func sweepLiveness(now: Int64, ctx: inout RecordContext) throws {
        let cutoff = now - options.instanceTimeoutMillis
        let rows = try db.rows(
            "SELECT workspace_id, project_id, id, status FROM agent_instances WHERE status != 'offline' AND liveness_ms < ? ORDER BY liveness_ms, workspace_id, project_id, id LIMIT 1000",
            [.int(cutoff)])
        for row in rows {
            let (ws, project, id) = (row[0].text!, row[1].text!, row[2].text!)
            let from = InstanceStatus(rawValue: row[3].text ?? "") ?? .error
            try db.run(
                "UPDATE agent_instances SET status='offline', updated_ms=? WHERE workspace_id=? AND project_id=? AND id=?",
                [.int(now), .text(ws), .text(project), .text(id)])
            ctx.emit(
                .instanceStatusChanged,
                statusPayload(id, from: from, to: .offline, reason: "liveness_timeout", error: nil),
                workspace: ws, project: project, commandId: nil)
        }
    }
}
