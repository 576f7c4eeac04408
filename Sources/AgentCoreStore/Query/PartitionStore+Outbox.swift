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
        try acknowledge(outboxThrough: seq, changelog: nil)
    }

    /// What a publishing round landed, in one transaction (one WAL commit per partition and
    /// round, where an outbox and a changelog acknowledgement took two): results through
    /// `outboxThrough` published, and the changelog unit of batches through
    /// `changelog.through` whose marker is at `changelog.offset` (see `acknowledgeChangelog`).
    public func acknowledge(
        outboxThrough seq: Int64?,
        changelog: (through: Int64, epoch: Int64, offset: Int64)?,
        atMillis now: Int64 = wallClockMillis()
    ) throws {
        let upTo = seq.map { min($0, nextSeq - 1) } ?? publishedThrough
        let movesOutbox = upTo > publishedThrough
        guard movesOutbox || changelog != nil else { return }
        try db.inTransaction {
            if movesOutbox {
                try db.run(
                    "INSERT INTO store_meta(key, value) VALUES('published_through', ?) ON CONFLICT(key) DO UPDATE SET value=max(value, excluded.value)",
                    [.int(upTo)]
                )
            }
            if let c = changelog {
                try db.run("DELETE FROM changelog_dirty WHERE batch <= ?", [.int(c.through)])
                try setMeta("changelog_epoch", .int(c.epoch))
                try setMeta("changelog_offset", .int(c.offset))
                try setMeta("changelog_synced_ms", .int(now))
            }
        }
        if movesOutbox { publishedThrough = upTo }
    }

    /// Forgets the applied offset of `topic`: the next record of it is applied whatever its
    /// offset (an operator starts the partition over on a recreated topic; the state stays,
    /// and commands seen before are answered as repeats within the idempotency retention).
    public func resetInputOffset(topic: String) throws {
        try db.run("DELETE FROM applied_offsets WHERE topic=?", [.text(topic)])
        appliedOffsets[topic] = nil
    }
}
