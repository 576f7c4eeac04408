import AgentCoreModel

extension PartitionStore {
    /// Records still to publish (from `results` rows after `published_through` and after
    /// `seq`), oldest first, from at most `limit` rows, read from the table.
    public func outbox(after seq: Int64 = 0, limit: Int = 10_000, maxBytes: Int = 64 << 20) throws -> [OutboxRecord] {
        try storedRows(from: max(seq, publishedThrough) + 1, limit: limit, maxBytes: maxBytes).flatMap(\.records)
    }

    /// The rows still to publish (after `published_through`), oldest first, at most
    /// `limit` rows and about `maxBytes` (always one row): from memory when the batches that
    /// applied them are still there (`UnpublishedRows`), from the table otherwise (after
    /// opening, a restore, another writer, or a backlog larger than memory keeps).
    public func unpublishedRows(limit: Int, maxBytes: Int = 16 << 20) throws -> [OutboxRow] {
        let start = publishedThrough + 1
        if let rows = unpublished.rows(from: start, limit: limit, maxBytes: maxBytes) { return rows }
        return try storedRows(from: start, limit: limit, maxBytes: maxBytes)
    }

    /// `results` rows from `seq` on, oldest first: at most `limit`, and about `maxBytes`
    /// (always one row).
    private func storedRows(from seq: Int64, limit: Int, maxBytes: Int) throws -> [OutboxRow] {
        let s = try db.statement("SELECT seq, outputs FROM results WHERE seq >= ? ORDER BY seq LIMIT ?")
        defer { s.reset() }
        try s.bind(.int(seq), at: 1)
        try s.bind(.int(Int64(limit)), at: 2)
        var out: [OutboxRow] = []
        var bytes = 0
        while bytes < maxBytes, try s.step() {
            let row = try Self.storedRow(s.bytes(1), seq: s.int(0))
            bytes += row.byteCount
            out.append(row)
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
    ///
    /// Without `persist`, an acknowledgement of results alone takes effect in memory now
    /// (publishing goes on after it) and reaches the file with the next transaction: the next
    /// batch's, or the next changelog acknowledgement's (a worker with the changelog sends a
    /// marker within its interval once `published_through` moved). Until then a crash makes
    /// the store publish those results again, under the same event ids, as a crash between
    /// the broker's acknowledgement and its commit always could. At low rates this was a
    /// second commit per partition and round (about a tenth of the worker's CPU at 2,000
    /// commands/s).
    public func acknowledge(
        outboxThrough seq: Int64?,
        changelog: (through: Int64, epoch: Int64, offset: Int64)?,
        atMillis now: Int64 = wallClockMillis(),
        persist: Bool = true
    ) throws {
        let upTo = max(seq.map { min($0, nextSeq - 1) } ?? publishedThrough, publishedThrough)
        let movesOutbox = upTo > publishedThrough
        if changelog == nil && !persist {
            if movesOutbox { notePublished(through: upTo) }
            return
        }
        guard upTo > publishedThroughOnDisk || changelog != nil else { return }
        try db.inTransaction {
            if upTo > publishedThroughOnDisk { try writePublishedThrough(upTo) }
            if let c = changelog {
                try db.run("DELETE FROM changelog_dirty WHERE batch <= ?", [.int(c.through)])
                try setMeta("changelog_epoch", .int(c.epoch))
                try setMeta("changelog_offset", .int(c.offset))
                try setMeta("changelog_synced_ms", .int(now))
            }
        }
        publishedThroughOnDisk = max(publishedThroughOnDisk, upTo)
        if movesOutbox { notePublished(through: upTo) }
    }

    /// Writes an acknowledgement kept in memory (`acknowledge(persist: false)`) now: before the
    /// store is closed, so that a restart does not publish those rows again.
    public func persistAcknowledgements() throws {
        try acknowledge(outboxThrough: nil, changelog: nil)
    }

    private func notePublished(through seq: Int64) {
        publishedThrough = seq
        unpublished.drop(through: seq)
    }

    /// Writes `published_through` (inside the caller's transaction; it never moves back).
    func writePublishedThrough(_ seq: Int64) throws {
        try db.run(
            "INSERT INTO store_meta(key, value) VALUES('published_through', ?) ON CONFLICT(key) DO UPDATE SET value=max(value, excluded.value)",
            [.int(seq)]
        )
    }

    /// Forgets the applied offset of `topic`: the next record of it is applied whatever its
    /// offset (an operator starts the partition over on a recreated topic; the state stays,
    /// and commands seen before are answered as repeats within the idempotency retention).
    public func resetInputOffset(topic: String) throws {
        try db.run("DELETE FROM applied_offsets WHERE topic=?", [.text(topic)])
        appliedOffsets[topic] = nil
    }
}

/// Unpublished results rows in memory, in `seq` order with no gap, as the batches that
/// applied them committed: publishing takes them from here instead of reading the table
/// back and decompressing each row. Bounded (`maxRows`, `maxBytes`): past that, the rows
/// are dropped and publishing reads the table until it reaches the rows kept since.
struct UnpublishedRows {
    /// About two steps of a busy partition (a step applies up to twice the batch size).
    static let maxRows = 4_096
    static let maxBytes = 4 << 20

    private var kept: [OutboxRow] = []
    private var bytes = 0

    /// Up to `limit` rows (and about `maxBytes`) from `seq` on, or nil when `seq` is not
    /// among the rows kept.
    func rows(from seq: Int64, limit: Int, maxBytes: Int) -> [OutboxRow]? {
        guard let first = kept.first?.seq, first <= seq, seq <= kept[kept.count - 1].seq else { return nil }
        let i = Int(seq - first)
        var end = i
        var taken = 0
        while end < kept.count, end - i < limit, taken < maxBytes {
            taken += kept[end].byteCount
            end += 1
        }
        return Array(kept[i..<end])
    }

    /// Adds the rows of a batch that committed (consecutive `seq`s).
    mutating func append(_ rows: [OutboxRow]) {
        guard let first = rows.first else { return }
        let batchBytes = rows.reduce(0) { $0 + $1.byteCount }
        // A gap (rows dropped before, or read by another writer), or too much held: start
        // over from this batch.
        if let last = kept.last,
            last.seq + 1 != first.seq || kept.count + rows.count > Self.maxRows
                || bytes + batchBytes > Self.maxBytes
        {
            removeAll()
        }
        guard rows.count <= Self.maxRows, batchBytes <= Self.maxBytes else { return }
        kept.append(contentsOf: rows)
        bytes += batchBytes
    }

    /// Forgets rows published (`seq` ≤ `through`).
    mutating func drop(through seq: Int64) {
        let n = kept.prefix { $0.seq <= seq }.count
        bytes -= kept[..<n].reduce(0) { $0 + $1.byteCount }
        kept.removeFirst(n)  // at most `maxRows` rows move, once a publishing round
    }

    mutating func removeAll() {
        kept.removeAll(keepingCapacity: true)
        bytes = 0
    }

    var count: Int { kept.count }
}
