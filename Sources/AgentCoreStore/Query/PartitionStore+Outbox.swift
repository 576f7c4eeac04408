import AgentCoreModel

extension PartitionStore {
    /// Records still to publish (from `results` rows after `published_through` and after
    /// `seq`), oldest first, from at most `limit` rows.
    public func outbox(after seq: Int64 = 0, limit: Int = 10_000, maxBytes: Int = 64 << 20) throws -> [OutboxRecord] {
        let s = try db.statement("SELECT seq, outputs FROM results WHERE seq > ? ORDER BY seq LIMIT ?")
        defer { s.reset() }
        try s.bind(.int(max(seq, publishedThrough)), at: 1)
        try s.bind(.int(Int64(limit)), at: 2)
        var out: [OutboxRecord] = []
        var bytes = 0
        while bytes < maxBytes, try s.step() {
            let rowSeq = s.int(0)
            for o in try Self.decodeStoredResult(s.bytes(1), row: rowSeq) {
                let value = o.value()
                out.append(OutboxRecord(seq: rowSeq, topic: o.topic, key: o.key, value: value, eventId: o.eventId))
                bytes += value.count
            }
        }
        return out
    }

    /// Results rows waiting to be published.
    public func outboxDepth() throws -> Int {
        Int(max(0, nextSeq - 1 - publishedThrough))
    }

    /// Marks everything up to and including `seq` as published (the broker acknowledged it).
    public func acknowledgeOutbox(through seq: Int64) throws {
        let upTo = min(seq, nextSeq - 1)
        guard upTo > publishedThrough else { return }
        try db.run(
            "INSERT INTO store_meta(key, value) VALUES('published_through', ?) ON CONFLICT(key) DO UPDATE SET value=max(value, excluded.value)",
            [.int(upTo)]
        )
        publishedThrough = upTo
    }

    /// Forgets the applied offset of `topic`: the next record of it is applied whatever its
    /// offset (an operator starts the partition over on a recreated topic; the state stays,
    /// and commands seen before are answered as repeats within the idempotency retention).
    public func resetInputOffset(topic: String) throws {
        try db.run("DELETE FROM applied_offsets WHERE topic=?", [.text(topic)])
        appliedOffsets[topic] = nil
    }
}
