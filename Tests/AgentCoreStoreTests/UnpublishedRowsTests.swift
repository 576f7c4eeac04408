import AgentCoreModel
import Foundation
import Testing

@testable import AgentCoreStore

/// Publishing takes a store's unpublished rows from memory (`UnpublishedRows`) when the
/// batches that applied them are still there, from the table otherwise: both must give
/// the same records, in the same order, whatever happened in between.
@Suite struct UnpublishedRowsTests {
    /// Records of `unpublishedRows`, beside what the table holds after `published_through`.
    static func check(_ f: StoreFixture, fromMemory: Bool) throws {
        let rows = try f.store.unpublishedRows(limit: 1_000_000)
        let onDisk = try f.store.outbox(after: f.store.publishedThrough, limit: 1_000_000)
        #expect(rows.flatMap(\.records) == onDisk)
        #expect(rows.map(\.seq) == Array(Set(onDisk.map(\.seq))).sorted())
        #expect((f.store.unpublished.count > 0) == fromMemory)
    }

    func batch(_ f: StoreFixture, _ n: Int, from start: Int) -> [InputRecord] {
        (start..<(start + n)).map { i in
            f.command(
                "context.write",
                ["instance_id": "i1", "name": .string("c\(i % 7)"), "data": ["n": .int(Int64(i))]],
                workspace: "ws1"
            )
        }
    }

    @Test func memoryAndTableAgreeThroughAcknowledgementsAndReopening() throws {
        let f = try StoreFixture()
        try f.registerDefinition()
        _ = try f.spawn("i1")
        try f.store.apply(batch(f, 50, from: 0))
        // The first rows (definition, spawn) came from batches of their own: all in memory.
        try Self.check(f, fromMemory: true)
        // A refused write, a dead letter and a repeated command id among the rows.
        var mixed = batch(f, 20, from: 50)
        mixed.append(f.record(Array("not json".utf8), key: "ws1", stream: .contextWrites))
        mixed.append(f.command("context.write", ["instance_id": "i1", "name": "c1", "data": [:], "expected_version": 999]))
        mixed.append(f.command("context.write", ["instance_id": "i1", "name": "c2", "data": [:]], id: "cmd-60"))
        try f.store.apply(mixed)
        try Self.check(f, fromMemory: true)
        // Published in part: the rest still comes from memory.
        let half = try f.store.unpublishedRows(limit: 30)
        try f.store.acknowledgeOutbox(through: half.last!.seq)
        try Self.check(f, fromMemory: true)
        #expect(try f.store.unpublishedRows(limit: 1_000_000).first?.seq == half.last!.seq + 1)
        // Reopened: nothing in memory, the table answers, and later batches join memory
        // only once the table's rows before them are published.
        let path = f.store.path
        f.store.close()
        f.store = try PartitionStore(path: path, partition: 0)
        try Self.check(f, fromMemory: false)
        try f.store.apply(batch(f, 10, from: 100))
        let rows = try f.store.unpublishedRows(limit: 1_000_000)
        #expect(rows.flatMap(\.records) == (try f.store.outbox(after: f.store.publishedThrough, limit: 1_000_000)))
        try f.store.acknowledgeOutbox(through: rows.last!.seq)
        try f.store.apply(batch(f, 10, from: 110))
        try Self.check(f, fromMemory: true)
    }

    /// An acknowledgement of results alone kept in memory (`persist: false`, what a worker
    /// with the changelog does) moves publishing on at once and reaches the file with the
    /// next batch or the next changelog acknowledgement; a store reopened before either
    /// publishes those rows again, with the same records (ids and bytes).
    @Test func anAcknowledgementKeptInMemoryIsWrittenWithTheNextCommit() throws {
        let f = try StoreFixture()
        try f.registerDefinition()
        _ = try f.spawn("i1")
        try f.store.acknowledgeOutbox(through: try f.store.unpublishedRows(limit: 100).last!.seq)
        try f.store.apply(batch(f, 10, from: 0))
        let first = try f.store.unpublishedRows(limit: 1_000)
        try f.store.acknowledge(outboxThrough: first.last!.seq, changelog: nil, persist: false)
        #expect(f.store.publishedThrough == first.last!.seq)
        #expect(try f.store.outboxDepth() == 0)
        #expect(try f.store.unpublishedRows(limit: 1_000).isEmpty)
        // Not in the file yet: reopened, the store publishes the same records again.
        let path = f.store.path
        f.store.close()
        f.store = try PartitionStore(path: path, partition: 0)
        #expect(try f.store.unpublishedRows(limit: 1_000).flatMap(\.records) == first.flatMap(\.records))
        // The next batch's commit carries it.
        try f.store.acknowledge(outboxThrough: first.last!.seq, changelog: nil, persist: false)
        try f.store.apply(batch(f, 10, from: 10))
        let second = try f.store.unpublishedRows(limit: 1_000)
        #expect(second.first?.seq == first.last!.seq + 1)
        f.store.close()
        f.store = try PartitionStore(path: path, partition: 0)
        #expect(f.store.publishedThrough == first.last!.seq)
        #expect(try f.store.unpublishedRows(limit: 1_000).flatMap(\.records) == second.flatMap(\.records))
        // So does a changelog acknowledgement, with no batch in between.
        try f.store.acknowledge(outboxThrough: second.last!.seq, changelog: nil, persist: false)
        try f.store.acknowledgeChangelog(through: try f.store.changelogDirtyThrough(), epoch: 1, offset: 0)
        f.store.close()
        f.store = try PartitionStore(path: path, partition: 0)
        #expect(f.store.publishedThrough == second.last!.seq)
        #expect(try f.store.outboxDepth() == 0)
        // A full reload of the positions (what a restore ends with) takes the file's value:
        // the restored results may be numbered anew, and publishing again is the safe side.
        try f.store.apply(batch(f, 5, from: 20))
        let third = try f.store.unpublishedRows(limit: 1_000)
        try f.store.acknowledge(outboxThrough: third.last!.seq, changelog: nil, persist: false)
        try f.store.loadPositions()
        #expect(f.store.publishedThrough == second.last!.seq)
        #expect(try f.store.unpublishedRows(limit: 1_000).flatMap(\.records) == third.flatMap(\.records))
        // What a worker does before closing a store: written, a reopened store starts after.
        try f.store.acknowledge(outboxThrough: third.last!.seq, changelog: nil, persist: false)
        try f.store.persistAcknowledgements()
        f.store.close()
        f.store = try PartitionStore(path: path, partition: 0)
        #expect(f.store.publishedThrough == third.last!.seq)
    }

    /// Past its bound the memory lets go of its rows, and the table serves them: no row is
    /// skipped or sent twice.
    @Test func aBacklogBeyondTheBoundIsReadFromTheTable() throws {
        let f = try StoreFixture()
        try f.registerDefinition()
        _ = try f.spawn("i1")
        try f.store.acknowledgeOutbox(through: try f.store.unpublishedRows(limit: 100).last!.seq)
        var written = 0
        while written <= UnpublishedRows.maxRows {
            try f.store.apply(batch(f, 1_000, from: written))
            written += 1_000
        }
        // The batch that crossed the bound started the memory over: the rows before it
        // come from the table, in limited rounds, then memory takes over.
        #expect(f.store.unpublished.count == 1_000)
        var seen: [OutboxRecord] = []
        let expected = try f.store.outbox(after: f.store.publishedThrough, limit: 1_000_000)
        while let rows = Optional(try f.store.unpublishedRows(limit: 700)), let last = rows.last {
            seen += rows.flatMap(\.records)
            try f.store.acknowledgeOutbox(through: last.seq)
        }
        #expect(seen == expected)
        #expect(f.store.unpublished.count == 0)
    }

    /// A round takes about `maxBytes` of rows (at least one), from memory and from the table.
    @Test func aRoundIsBoundedInBytes() throws {
        let f = try StoreFixture()
        try f.registerDefinition()
        _ = try f.spawn("i1")
        try f.store.apply(batch(f, 40, from: 0))
        let all = try f.store.unpublishedRows(limit: 1_000)
        let rowBytes = all.last!.byteCount
        #expect(try f.store.unpublishedRows(limit: 1_000, maxBytes: 1).count == 1)
        let some = try f.store.unpublishedRows(limit: 1_000, maxBytes: 10 * rowBytes)
        #expect(some.count >= 5 && some.count < all.count)
        let path = f.store.path
        f.store.close()
        f.store = try PartitionStore(path: path, partition: 0)
        #expect(try f.store.unpublishedRows(limit: 1_000, maxBytes: 1).count == 1)
        #expect(try f.store.unpublishedRows(limit: 1_000, maxBytes: 10 * rowBytes).map(\.seq) == some.map(\.seq))
    }

    /// A batch that fails leaves nothing in memory: its rows were never committed.
    @Test func aFailedBatchAddsNoRows() throws {
        let f = try StoreFixture()
        try f.registerDefinition()
        _ = try f.spawn("i1")
        let before = try f.store.unpublishedRows(limit: 1_000)
        struct Stop: Error {}
        var n = 0
        f.store.beforeRecord = { _ in
            n += 1
            if n == 5 { throw Stop() }
        }
        #expect(throws: Stop.self) { try f.store.apply(batch(f, 10, from: 0)) }
        f.store.beforeRecord = nil
        #expect(try f.store.unpublishedRows(limit: 1_000).map(\.seq) == before.map(\.seq))
        try Self.check(f, fromMemory: true)
    }

    /// Rows read back from the table and rows fresh from a batch give the same slices.
    @Test func aStoredRowParsesToTheSlotsItWasWrittenWith() throws {
        let outputs = [
            Outgoing(topic: .status, key: Array("acme".utf8), value: Array("{\"a\":1}".utf8), eventId: "t/0/1/0"),
            Outgoing(topic: .dlq, key: nil, value: Array("{}".utf8), eventId: "t/0/1/1"),
            Outgoing(topic: .heartbeats, key: [0, 0xFF, 0x10], value: Array("[]".utf8), eventId: "t/0/1/2"),
        ]
        let (stored, fresh) = PartitionStore.storedResult(outputs, ResultCompressor())
        let read = try PartitionStore.storedRow(stored, seq: 0)
        #expect(read.slots == fresh.slots)
        #expect(read.records == fresh.records)
        #expect(fresh.records.map(\.key) == outputs.map(\.key))
        #expect(fresh.records.map(\.eventId) == outputs.map(\.eventId))
        #expect(throws: StoreError.self) { try OutboxRow(seq: 1, plain: Array("status\tid\tzz\t{}\n".utf8)) }
        #expect(throws: StoreError.self) { try OutboxRow(seq: 1, plain: Array("nope\tid\t-\t{}\n".utf8)) }
        #expect(throws: StoreError.self) { try OutboxRow(seq: 1, plain: Array("status\tid\n".utf8)) }
    }
}
