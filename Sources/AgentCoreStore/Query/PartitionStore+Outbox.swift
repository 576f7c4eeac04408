import AgentCoreModel

extension PartitionStore {
    /// Outbox rows after `seq`, oldest first, at most `limit`.
    public func outbox(after seq: Int64 = 0, limit: Int = 10_000) throws -> [OutboxRecord] {
        let s = try db.statement("SELECT seq, topic, key, value, event_id FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?")
        try s.bind(.int(seq), at: 1)
        try s.bind(.int(Int64(limit)), at: 2)
        var out: [OutboxRecord] = []
        while try s.step() {
            guard let topic = OutputTopic(rawValue: s.text(1) ?? "") else {
                throw StoreError("corrupt_store", "outbox row \(s.int(0)) has unknown topic")
            }
            out.append(
                OutboxRecord(
                    seq: s.int(0), topic: topic, key: s.isNull(2) ? nil : s.bytes(2), value: s.bytes(3),
                    eventId: s.text(4) ?? ""))
        }
        return out
    }

    /// Number of rows waiting in the outbox.
    public func outboxDepth() throws -> Int {
        Int(try db.rows("SELECT count(*) FROM outbox").first?.first?.int ?? 0)
    }

    /// Drops outbox rows up to and including `seq`, once the broker acknowledged them.
    public func acknowledgeOutbox(through seq: Int64) throws {
        try db.run("DELETE FROM outbox WHERE seq <= ?", [.int(seq)])
    }
}
