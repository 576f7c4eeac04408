import AgentCoreModel
import Foundation
import Testing

@testable import AgentCoreStore

typealias MemoryLog = InMemoryChangelog

/// Publishes a store's unacknowledged changes as a unit (rows, then a marker), as a worker
/// does, and acknowledges them.
@discardableResult
func publishUnit(_ store: PartitionStore, to log: MemoryLog, epoch: Int64, writer: String = "w", marker: Bool = true) throws -> Int {
    var rows = 0
    let (through, _, position) = try store.forEachChangelogRecord { key, value in
        _ = try log.append(.row(key: key, value: value, epoch: epoch))
        rows += 1
    }
    guard marker else { return rows }
    let at = try log.append(.marker(epoch: epoch, writer: writer, position: position))
    try store.acknowledgeChangelog(through: through, epoch: epoch, offset: at)
    return rows
}

/// Rows of the changelog's tables that are live (pruned versions excluded).
func liveRows(_ s: PartitionStore) throws -> Int {
    var n = 0
    for t in ChangelogTable.all {
        let q =
            switch t.id {
            case ChangelogTable.versions.id:
                "SELECT count(*) FROM agent_context_versions v JOIN agent_context_heads h ON h.cid = v.cid WHERE v.version >= h.oldest_version"
            // Results travel in blocks from `resultBlocksFrom` on (a new store's from its
            // first row), as rows of their own below it.
            case ChangelogTable.results.id:
                "SELECT count(*) FILTER (WHERE seq < \(s.resultBlocksFrom ?? 0))"
                    + " + count(DISTINCT seq / \(ChangelogCodec.resultBlockSize)) FILTER (WHERE seq >= \(s.resultBlocksFrom ?? 0)) FROM results"
            case ChangelogTable.heads.id: "SELECT 0"  // derived from versions by a restore
            default: "SELECT count(*) FROM \(t.name)"
            }
        n += Int(try s.db.rows(q).first?.first?.int ?? 0)
    }
    return n
}

/// A new store restored from `log` alone.
func restoredCopy(of log: ChangelogLog, writer: String) throws -> StoreFixture {
    let f = try StoreFixture(options: ChangelogTests.options())
    try ChangelogRestore(writer: writer).run(store: f.store, log: log)
    return f
}

func resultsRows(_ s: PartitionStore) throws -> [[SQLValue]] {
    try s.db.rows("SELECT seq, hkey, workspace_id, command_id, outputs FROM results ORDER BY seq")
}

@Suite struct ChangelogTests {
    static func options() -> StoreOptions {
        var o = StoreOptions()
        o.historyLimit = 4
        o.instanceTimeoutMillis = 20_000
        o.versionSweepLag = 16
        o.idempotencyRetention = 400
        return o
    }

    @Test func capturedTablesListEveryColumn() throws {
        let f = try StoreFixture()
        for t in ChangelogTable.all {
            let columns = try f.store.db.rows("PRAGMA table_info(\(t.name))").map { $0[1].text! }
            #expect(Set(columns) == Set(t.columns), "\(t.name)")
        }
    }

    /// Rows noted by several batches (and twice in one) are read once each, in order.
    @Test func dirtyRowsAreReadSortedAndOnce() throws {
        var batch1: [UInt8] = []
        var batch2: [UInt8] = []
        for (table, rowid) in [(UInt8(7), Int64(5)), (6, 9), (7, 5), (6, 2)] {
            batch1 += [1, table]
            ChangelogCodec.writeVarint(UInt64(rowid), to: &batch1)
        }
        for (table, rowid) in [(UInt8(6), Int64(9)), (7, 1)] {
            batch2 += [1, table]
            ChangelogCodec.writeVarint(UInt64(rowid), to: &batch2)
        }
        for (cid, version) in [(Int64(3), Int64(4)), (3, 4), (2, 8)] {
            batch2.append(3)
            ChangelogCodec.writeVarint(UInt64(cid), to: &batch2)
            ChangelogCodec.writeVarint(UInt64(version), to: &batch2)
        }
        var dirty = DirtySet()
        try dirty.add(encoded: batch1)
        try dirty.add(encoded: batch2)
        #expect(dirty.sortedRows.map { [Int64($0.table), $0.rowid] } == [[6, 2], [6, 9], [7, 1], [7, 5]])
        #expect(dirty.sortedPruned.map { [$0.cid, $0.rowid] } == [[2, 8], [3, 4]])
        #expect(DirtySet.sortedUnique([Int]()).isEmpty)
        #expect(DirtySet.sortedUnique([4, 4, 4]) == [4])
    }

    @Test func codecRoundTrips() throws {
        let values: [SQLValue] = [
            .null, .int(0), .int(-1), .int(Int64.max), .int(Int64.min), .utf8(Array("héllo".utf8)), .blob([0, 1, 255]), .utf8([]),
        ]
        let t = ChangelogTable(99, "t", columns: (0..<values.count).map { "c\($0)" }, key: ["c1", "c2"])
        let image = ChangelogCodec.image(values)
        #expect(try ChangelogCodec.decodeImage(image, table: t) == values)
        let key = ChangelogCodec.key(ChangelogTable.versions, [.int(7), .int(-3)])
        #expect(try ChangelogCodec.decodeKey(key) == .row(ChangelogTable.versions, [.int(7), .int(-3)]))
        #expect(try ChangelogCodec.decodeKey(ChangelogCodec.blockKey(12_345)) == .resultBlock(12_345))
        for bad in [[UInt8]([0x72, 200]), [0x72, 7, 1], [0x72, 7, 2, 5, 0], [0x72, 10], [0x72, 10, 2, 0], [0x72, 10, 1, 2, 1, 2]] {
            #expect(throws: StoreError.self) { _ = try ChangelogCodec.decodeKey(bad) }
        }
        let marker = ChangelogEntry.marker(epoch: 3, writer: "w1", position: ChangelogPosition())
        let enc = marker.encoded
        #expect(try ChangelogEntry.decode(key: enc.key, value: enc.value, epochHeader: enc.epochHeader) == marker)
        let row = ChangelogEntry.row(key: key, value: nil, epoch: 9)
        let r = row.encoded
        #expect(try ChangelogEntry.decode(key: r.key, value: r.value, epochHeader: r.epochHeader) == row)
    }

    /// The whole workload written through a store that publishes a unit after each batch,
    /// then restored into an empty store: same state, same results, same position; and
    /// the two stores answer the rest of the workload identically.
    @Test func restoredStoreEqualsTheWriter() throws {
        let a = try StoreFixture(options: Self.options())
        let records = DeterminismTests.workload(a, seed: 11, count: 3_000)
        let log = MemoryLog()
        let first = records.count * 2 / 3
        for chunk in stride(from: 0, to: first, by: 97) {
            try a.store.apply(Array(records[chunk..<min(chunk + 97, first)]))
            if chunk % 3 == 0 { try publishUnit(a.store, to: log, epoch: 0) }
            try a.store.acknowledgeOutbox(through: Int64(chunk / 2))
        }
        try publishUnit(a.store, to: log, epoch: 0)
        let b = try StoreFixture(options: Self.options())
        let report = try ChangelogRestore(writer: "b").run(store: b.store, log: log)
        #expect(report.kind == .full)
        #expect(report.rowsApplied > 0)
        try expectSame(a.store, b.store)
        // Both answer the rest identically: same events (ids and bytes), same state.
        let beforeA = try a.store.outbox(limit: 1_000_000).last?.seq ?? 0
        let beforeB = try b.store.outbox(limit: 1_000_000).last?.seq ?? 0
        #expect(beforeA == beforeB)
        // a takes the partition back (b claimed it meanwhile: a reads b's empty tail).
        let again = try ChangelogRestore(writer: "a").run(store: a.store, log: log)
        #expect(again.kind == .appliedTail)
        try a.store.apply(Array(records[first...]))
        try b.store.apply(Array(records[first...]))
        try expectSame(a.store, b.store)
        #expect(try a.store.outbox(after: beforeA, limit: 1_000_000) == b.store.outbox(after: beforeB, limit: 1_000_000))
        try publishUnit(a.store, to: log, epoch: again.epoch)
        // A compacted log restores the same store, and holds one row record per live row
        // (plus tombstones, which Kafka drops after `delete.retention.ms`).
        log.compact()
        let liveRecords = log.records.filter { if case .row(_, let v?, _) = $0.entry { return v.count > 0 } else { return false } }
        #expect(liveRecords.count == (try liveRows(a.store)))
        let c = try restoredCopy(of: log, writer: "c")
        try expectSame(a.store, c.store)
    }

    /// Results rows travel in blocks of `resultBlockSize` (one record per block, not per
    /// row); a store that published results as rows before blocks existed keeps those rows
    /// as rows (tombstoned as rows when retention deletes them) and sends blocks from the
    /// next whole block on. Restores from the log, compacted or not, equal the writer.
    @Test func resultsTravelInBlocksAndRowsFromBeforeBlocksStayRight() throws {
        let a = try StoreFixture(options: Self.options())  // retention 400 results rows
        let records = DeterminismTests.workload(a, seed: 41, count: 2_400)
        let log = MemoryLog()
        // As a store from before blocks: every results row is a row record.
        try a.store.setMeta("changelog_result_blocks_from", .int(1 << 40))
        a.store.resultBlocksFrom = 1 << 40
        for chunk in stride(from: 0, to: 300, by: 50) {
            try a.store.apply(Array(records[chunk..<min(chunk + 50, records.count)]))
            try a.store.acknowledgeOutbox(through: a.store.nextSeq - 1)
            _ = try publishUnit(a.store, to: log, epoch: 0)
        }
        let rowsBefore = log.records.count { if case .row(let k, _, _) = $0.entry { k[1] == ChangelogTable.results.id } else { false } }
        #expect(rowsBefore >= 300)
        let upgradedAt = log.records.count
        let old = try restoredCopy(of: log, writer: "old")
        #expect(old.store.resultBlocksFrom == 1 << 40)  // from the marker
        let epoch = try ChangelogRestore(writer: "a").run(store: a.store, log: log).epoch  // a takes it back
        // The upgrade: the next batch settles blocks from the next whole block on.
        let firstNew = a.store.nextSeq
        try a.store.db.run("DELETE FROM store_meta WHERE key='changelog_result_blocks_from'")
        a.store.resultBlocksFrom = nil
        for chunk in stride(from: 300, to: records.count, by: 50) {
            try a.store.apply(Array(records[chunk..<min(chunk + 50, records.count)]))
            try a.store.acknowledgeOutbox(through: a.store.nextSeq - 1)
            _ = try publishUnit(a.store, to: log, epoch: epoch)
        }
        let from = try #require(a.store.resultBlocksFrom)
        #expect(from == PartitionStore.blockAligned(firstNew) && from % ChangelogCodec.resultBlockSize == 0)
        var blocks = 0
        for r in log.records.dropFirst(upgradedAt) {
            guard case .row(let k, let value, _) = r.entry else { continue }
            switch try ChangelogCodec.decodeKey(k) {
            case .row(let t, let v) where t.id == ChangelogTable.results.id:
                // Rows below the first whole block only; those written before the upgrade
                // only as tombstones (retention deleted them).
                guard case .int(let seq) = v[0] else {
                    Issue.record("bad results key")
                    continue
                }
                #expect(seq < from)
                if seq < firstNew { #expect(value == nil) }
            case .resultBlock: blocks += 1
            default: break
            }
        }
        // Fewer block records than results rows written since (about one per unit per block).
        #expect(blocks > 0 && Int64(blocks) < (a.store.nextSeq - firstNew) / 4)
        // Retention deleted rows of both kinds.
        let oldest = try #require(try a.store.db.rows("SELECT min(seq) FROM results").first?.first?.int)
        #expect(oldest > from)
        let b = try restoredCopy(of: log, writer: "b")
        try expectSame(a.store, b.store)
        #expect(b.store.resultBlocksFrom == from)
        log.compact(dropTombstones: true)
        let live = log.records.filter { if case .row(_, let v?, _) = $0.entry { return v.count > 0 } else { return false } }
        #expect(live.count == (try liveRows(a.store)))
        let c = try restoredCopy(of: log, writer: "c")
        try expectSame(a.store, c.store)
    }

    /// Heads are not published: a restore derives them from the version rows, including
    /// into a store that holds pruned rows its sweep has not deleted yet, and a head record
    /// from a store from before (upserted, then derived over) changes nothing.
    @Test func headsAreDerivedFromTheirVersions() throws {
        let a = try StoreFixture(options: Self.options())  // history 4, sweep lag 16
        let records = DeterminismTests.workload(a, seed: 52, count: 1_600)
        let log = MemoryLog()
        for chunk in stride(from: 0, to: 800, by: 40) {
            try a.store.apply(Array(records[chunk..<(chunk + 40)]))
            _ = try publishUnit(a.store, to: log, epoch: 0)
        }
        let headRecords = log.records.filter { if case .row(let k, _?, _) = $0.entry { k[1] == ChangelogTable.heads.id } else { false } }
        #expect(headRecords.isEmpty)
        #expect(try a.store.countPrunedRows() > 0)  // a holds pruned rows the sweep left
        // b restores from the log and takes over; a head record as an older writer sent it.
        let b = try restoredCopy(of: log, writer: "b")
        try expectSame(a.store, b.store)
        let head = try #require(try b.store.db.rows("SELECT cid, current_version, oldest_version FROM agent_context_heads ORDER BY cid").first)
        _ = try log.append(
            .row(key: ChangelogCodec.key(ChangelogTable.heads, [head[0]]), value: ChangelogCodec.image(head), epoch: 1)
        )
        for chunk in stride(from: 800, to: records.count, by: 40) {
            try b.store.apply(Array(records[chunk..<min(chunk + 40, records.count)]))
            _ = try publishUnit(b.store, to: log, epoch: 1, writer: "b")
        }
        // a, with its unswept pruned rows, takes the tail b wrote.
        let report = try ChangelogRestore(writer: "a").run(store: a.store, log: log)
        #expect(report.kind == .appliedTail)
        try expectSame(b.store, a.store)
        #expect(try a.store.countPrunedRows() == 0)
        let c = try restoredCopy(of: log, writer: "c")
        try expectSame(b.store, c.store)
    }

    /// A writer that stopped mid-publish: its partial unit is not restored; the new owner
    /// re-publishes those keys after its claim, so even a compacted log stays right.
    @Test func partialUnitIsNotRestoredAndIsCompensated() throws {
        let a = try StoreFixture(options: Self.options())
        let reference = try StoreFixture(options: Self.options())
        let records = DeterminismTests.workload(a, seed: 5, count: 1_200)
        #expect(DeterminismTests.workload(reference, seed: 5, count: 1_200) == records)
        let log = MemoryLog()
        try a.store.apply(Array(records[0..<500]))
        try publishUnit(a.store, to: log, epoch: 0)
        let atMarker = try a.store.canonicalDump()
        try a.store.apply(Array(records[500..<800]))
        try publishUnit(a.store, to: log, epoch: 0, marker: false)  // the writer dies here
        let b = try StoreFixture(options: Self.options())
        let report = try ChangelogRestore(writer: "b").run(store: b.store, log: log)
        #expect(try b.store.canonicalDump() == atMarker)
        #expect(report.compensated > 0)
        #expect(
            b.store.appliedOffsets == [
                records[0].topic: records[0..<500].filter { $0.topic == records[0].topic }.last!.offset,
                "agentcore.context-writes": records[0..<500].filter { $0.stream == .contextWrites }.last!.offset,
            ]
        )
        // The new owner resumes input after the restored offsets and publishes.
        try b.store.apply(Array(records[500...]))
        try publishUnit(b.store, to: log, epoch: report.epoch)
        try reference.store.apply(records)
        #expect(try b.store.canonicalDump() == reference.store.canonicalDump())
        // Any later restore, from the whole log or a compacted one, finds the same state.
        for compacted in [false, true] {
            if compacted { log.compact() }
            let c = try StoreFixture(options: Self.options())
            try ChangelogRestore(writer: "c\(compacted)").run(store: c.store, log: log)
            #expect(try c.store.canonicalDump() == reference.store.canonicalDump())
        }
    }

    /// A zombie (the old owner, still running after the partition moved) keeps writing: its
    /// rows after the new owner's claim never reach a restore.
    @Test func zombieWritesAfterAClaimAreIgnored() throws {
        let a = try StoreFixture(options: Self.options())
        let records = DeterminismTests.workload(a, seed: 9, count: 900)
        let log = MemoryLog()
        try a.store.apply(Array(records[0..<300]))
        try publishUnit(a.store, to: log, epoch: 1, writer: "a")
        let b = try StoreFixture(options: Self.options())
        let claim = try ChangelogRestore(writer: "b").run(store: b.store, log: log)
        #expect(claim.epoch == 2)
        // The zombie applies other records than the owner and publishes them, with markers.
        try a.store.apply(Array(records[600...]))
        try publishUnit(a.store, to: log, epoch: 1, writer: "a")
        try b.store.apply(Array(records[300..<600]))
        try publishUnit(b.store, to: log, epoch: 2, writer: "b")
        try a.store.apply(Array(records[300..<600]))
        try publishUnit(a.store, to: log, epoch: 1, writer: "a")
        #expect(try a.store.canonicalDump() != b.store.canonicalDump())
        let c = try restoredCopy(of: log, writer: "c")
        try expectSame(b.store, c.store)
        // The zombie's own mark (its last acknowledged marker) lies after the newer owner's
        // claim and units, and it has nothing unpublished: from the tail alone its store
        // looks current. The worker records the lost session (`markLostOwnership`, on a lost
        // revoke), so the store is rebuilt instead of trusted.
        #expect(try a.store.changelogDirtyThrough() == 0)
        try a.store.markLostOwnership()
        #expect(throws: RestoreNeedsRebuild.self) { _ = try ChangelogRestore(writer: "a").run(store: a.store, log: log) }
        // Newer epochs' units after the zombie's mark, with no claim between: rebuilt too.
        let z = try StoreFixture(options: Self.options())
        let zlog = MemoryLog()
        try ChangelogRestore(writer: "z").run(store: z.store, log: zlog)  // epoch 1
        try z.store.apply(Array(records[0..<100]))
        try publishUnit(z.store, to: zlog, epoch: 1, writer: "z")
        let y = try restoredCopy(of: zlog, writer: "y")  // claims epoch 2
        try z.store.apply(Array(records[100..<200]))
        try publishUnit(z.store, to: zlog, epoch: 1, writer: "z")  // the zombie's mark: after y's claim
        try y.store.apply(Array(records[100..<300]))
        try publishUnit(y.store, to: zlog, epoch: 2, writer: "y")
        #expect(throws: RestoreNeedsRebuild.self) { _ = try ChangelogRestore(writer: "z").run(store: z.store, log: zlog) }
    }

    /// The known gap the group's record closes: a zombie whose last marker landed after a
    /// newer owner's claim, killed before its lost session was reported (no
    /// `changelog_lost` note), and no newer record after its mark. From the tail alone its
    /// store looks current; the claim recorded in the consumer group (`GroupClaim`) shows the
    /// mark follows a newer claim, so the store is rebuilt, and epochs stay above it.
    @Test func zombieMarkAfterAClaimOnlyTheGroupKnows() throws {
        let records = DeterminismTests.workload(try StoreFixture(options: Self.options()), seed: 11, count: 300)
        // z owns the partition (epoch 1); y claims it (epoch 2) and dies before writing; the
        // zombie z's next unit lands after y's claim.
        func scenario() throws -> (z: StoreFixture, log: MemoryLog, yClaim: RestoreReport) {
            let z = try StoreFixture(options: Self.options())
            let log = MemoryLog()
            try ChangelogRestore(writer: "z").run(store: z.store, log: log)
            try z.store.apply(Array(records[0..<100]))
            try publishUnit(z.store, to: log, epoch: 1, writer: "z")
            let y = try StoreFixture(options: Self.options())
            let yClaim = try ChangelogRestore(writer: "y").run(store: y.store, log: log)
            try z.store.apply(Array(records[100..<200]))
            try publishUnit(z.store, to: log, epoch: 1, writer: "z")
            return (z, log, yClaim)
        }
        // Without the group's record: kept, and claimed again under y's epoch.
        let blind = try scenario()
        #expect(blind.yClaim.epoch == 2)
        let kept = try ChangelogRestore(writer: "z").run(store: blind.z.store, log: blind.log)
        #expect(kept.kind == .keptLocal && kept.epoch == 2)
        // With it: rebuilt; the rebuilt store equals a fresh restore, and the claim is epoch 3.
        let seen = try scenario()
        var restore = ChangelogRestore(writer: "z")
        restore.groupClaim = GroupClaim(epoch: seen.yClaim.epoch, offset: seen.yClaim.claimOffset, writer: "y")
        #expect(throws: RestoreNeedsRebuild.self) { _ = try restore.run(store: seen.z.store, log: seen.log) }
        let rebuilt = try StoreFixture(options: Self.options())
        let report = try restore.run(store: rebuilt.store, log: seen.log)
        #expect(report.kind == .full && report.epoch == 3)
        let reference = try restoredCopy(of: seen.log, writer: "r")
        try expectSame(rebuilt.store, reference.store)
        // A store whose mark follows the claim rightfully (it applied the claimant's units),
        // or precedes it (the partition comes back to an earlier owner), is not rebuilt.
        let after = try StoreFixture(options: Self.options())
        let w = try StoreFixture(options: Self.options())
        let wlog = MemoryLog()
        let wClaim = try ChangelogRestore(writer: "w").run(store: w.store, log: wlog)
        try w.store.apply(Array(records[0..<100]))
        try publishUnit(w.store, to: wlog, epoch: wClaim.epoch, writer: "w")
        var v = ChangelogRestore(writer: "v")
        let vClaim = try v.run(store: after.store, log: wlog)
        try after.store.apply(Array(records[100..<200]))
        try publishUnit(after.store, to: wlog, epoch: vClaim.epoch, writer: "v")
        v.groupClaim = GroupClaim(epoch: vClaim.epoch, offset: vClaim.claimOffset, writer: "v")
        #expect(try v.run(store: after.store, log: wlog).kind == .keptLocal)
        var back = ChangelogRestore(writer: "w")
        // (The group names a higher epoch than the log shows, after the mark: the new claim
        // goes above it.)
        back.groupClaim = GroupClaim(epoch: 9, offset: vClaim.claimOffset, writer: "v")
        let wBack = try back.run(store: w.store, log: wlog)
        #expect(wBack.kind == .appliedTail && wBack.epoch == 10)
    }

    @Test func groupClaimMetadataRoundTrips() {
        let g = GroupClaim(epoch: 12, offset: 3_456, writer: "worker 7")
        #expect(GroupClaim(metadata: g.metadata) == g)
        #expect(GroupClaim.newest([nil, g.metadata, GroupClaim(epoch: 3, offset: 9, writer: "w").metadata, "x"]) == g)
        #expect(GroupClaim.newest([nil, "x"]) == nil)
        for bad in [nil, "", "agentcore-claim/1 ", "agentcore-claim/1 x 1 w", "agentcore-claim/1 1 2", "agentcore-claim/2 1 2 w", "something else"] {
            #expect(GroupClaim(metadata: bad) == nil, "\(bad ?? "nil")")
        }
    }

    /// An intact local store (a restart on the same disk) is never rebuilt: behind, it gets
    /// only the tail; ahead (changes not yet in the log), it keeps them and publishes them.
    @Test func intactStoreGetsOnlyTheTail() throws {
        let a = try StoreFixture(options: Self.options())
        let records = DeterminismTests.workload(a, seed: 21, count: 900)
        let log = MemoryLog()
        try a.store.apply(Array(records[0..<300]))
        try publishUnit(a.store, to: log, epoch: 0)
        // b restores fully, stops; a writes more (as the owner in between); b comes back.
        let b = try StoreFixture(options: Self.options())
        let first = try ChangelogRestore(writer: "b").run(store: b.store, log: log)
        #expect(first.kind == .full)
        let a2 = try ChangelogRestore(writer: "a").run(store: a.store, log: log)
        #expect(a2.kind == .appliedTail)  // b claimed after a's mark: a reads b's tail (empty)
        #expect(a2.rowsApplied == 0)
        try a.store.apply(Array(records[300..<600]))
        try publishUnit(a.store, to: log, epoch: a2.epoch, writer: "a")
        let readsBefore = log.reads.count
        let tail = try ChangelogRestore(writer: "b").run(store: b.store, log: log)
        #expect(tail.kind == .appliedTail)
        #expect(log.reads[readsBefore] == first.claimOffset + 1)
        try expectSame(a.store, b.store)
        // Unpublished changes of its own, nobody else wrote since: kept and published.
        try b.store.apply(Array(records[600...]))
        let kept = try ChangelogRestore(writer: "b").run(store: b.store, log: log)
        #expect(kept.kind == .keptLocal)
        try publishUnit(b.store, to: log, epoch: kept.epoch, writer: "b")
        let c = try restoredCopy(of: log, writer: "c")
        try expectSame(b.store, c.store)
    }

    /// A standby follows another writer's units without claiming; taking the partition
    /// over then applies only what came after its last pass, and ends equal to the writer.
    @Test func standbyFollowsThenTakesOverWithTheTailOnly() throws {
        let a = try StoreFixture(options: Self.options())
        let records = DeterminismTests.workload(a, seed: 31, count: 1_500)
        let log = MemoryLog()
        let first = try ChangelogRestore(writer: "a").run(store: a.store, log: log)
        let standby = try StoreFixture(options: Self.options())
        var followedRows = 0
        for chunk in stride(from: 0, to: 1_200, by: 100) {
            try a.store.apply(Array(records[chunk..<chunk + 100]))
            try publishUnit(a.store, to: log, epoch: first.epoch, writer: "a")
            if chunk % 300 == 0 {
                let claimsBefore = log.records.count
                let pass = try ChangelogRestore(writer: "s").follow(store: standby.store, log: log)
                followedRows += pass.rowsApplied
                #expect(log.records.count == claimsBefore, "a standby appends nothing")
                #expect(pass.claimOffset == -1)
            }
        }
        #expect(followedRows > 0)
        #expect(try standby.store.isStandbyCopy())
        // A pass with nothing new keeps the store as it is.
        let idle = try ChangelogRestore(writer: "s").follow(store: standby.store, log: log)
        let again = try ChangelogRestore(writer: "s").follow(store: standby.store, log: log)
        #expect(again.rowsApplied == 0 && again.kind == .keptLocal, "\(idle) then \(again)")
        try expectSame(a.store, standby.store)
        // A unit that only acknowledges (a marker, no rows, no new input) still moves the
        // copy: a takeover must not publish again what the writer had published.
        try a.store.acknowledgeOutbox(through: Int64.max)
        try publishUnit(a.store, to: log, epoch: first.epoch, writer: "a")
        _ = try ChangelogRestore(writer: "s").follow(store: standby.store, log: log)
        #expect(standby.store.publishedThrough == a.store.publishedThrough)
        // The writer goes on, then dies; the standby takes over: only the tail is read.
        try a.store.apply(Array(records[1_200...]))
        try publishUnit(a.store, to: log, epoch: first.epoch, writer: "a")
        let readsBefore = log.reads.count
        let takeover = try ChangelogRestore(writer: "s").run(store: standby.store, log: log)
        #expect(takeover.kind == .appliedTail)
        #expect(!takeover.wentBack)
        #expect(takeover.claimOffset >= 0)
        #expect(log.reads[readsBefore] > first.claimOffset + 1, "read from its last pass, not from the start")
        #expect(!(try standby.store.isStandbyCopy()))
        try expectSame(a.store, standby.store)
        // A store with changes of its own not in the log cannot follow.
        let writer = try StoreFixture(options: Self.options())
        try writer.store.apply(Array(records[0..<50]))
        #expect(throws: RestoreNeedsRebuild.self) { try ChangelogRestore(writer: "w").follow(store: writer.store, log: log) }
    }

    /// A local store (the owner's, or a standby copy) out of step with the changelog for
    /// longer than the age limit is rebuilt, not brought forward from its mark: compaction
    /// may have dropped the tombstones of deletions since. Within the limit it is kept.
    @Test func storesOutOfStepTooLongAreRebuiltNotBroughtForward() throws {
        let hour: Int64 = 3_600_000
        func restore(_ writer: String, at now: Int64) -> ChangelogRestore {
            var r = ChangelogRestore(writer: writer)
            r.maxLocalAgeMillis = 12 * hour
            r.nowMillis = { now }
            return r
        }
        let a = try StoreFixture(options: Self.options())
        let records = DeterminismTests.workload(a, seed: 33, count: 400)
        let log = MemoryLog()
        let first = try ChangelogRestore(writer: "a").run(store: a.store, log: log)
        try a.store.apply(Array(records[0..<200]))
        try publishUnit(a.store, to: log, epoch: first.epoch, writer: "a")
        let standby = try StoreFixture(options: Self.options())
        _ = try ChangelogRestore(writer: "s").follow(store: standby.store, log: log)
        let synced = try #require(try standby.store.changelogSyncedAt())
        #expect(abs(synced - PartitionStore.wallClockMillis()) < 60_000)
        try a.store.apply(Array(records[200...]))
        try publishUnit(a.store, to: log, epoch: first.epoch, writer: "a")
        // 13 hours later: neither the copy nor the owner's own store is brought forward.
        let late = try #require(try a.store.changelogSyncedAt()) + 13 * hour
        #expect(throws: RestoreNeedsRebuild.self) { try restore("s", at: late).follow(store: standby.store, log: log) }
        #expect(throws: RestoreNeedsRebuild.self) { try restore("s", at: late).run(store: standby.store, log: log) }
        #expect(throws: RestoreNeedsRebuild.self) { try restore("a", at: late).run(store: a.store, log: log) }
        // 11 hours after the copy's last pass: followed as usual, and its time moves on.
        let pass = try restore("s", at: synced + 11 * hour).follow(store: standby.store, log: log)
        #expect(pass.kind == .appliedTail && pass.rowsApplied > 0, "\(pass)")
        #expect(try standby.store.changelogSyncedAt()! >= synced)
        try expectSame(a.store, standby.store)
        // A rebuilt store (a new file) restores fully whatever the clock says.
        let rebuilt = try StoreFixture(options: Self.options())
        let full = try restore("s", at: late).run(store: rebuilt.store, log: log)
        #expect(full.kind == .full)
        try expectSame(a.store, rebuilt.store)
    }

    /// A restore cut short resumes after what it applied; a log whose beginning is gone fails.
    @Test func cutShortRestoreResumesAndLostBeginningFails() throws {
        let a = try StoreFixture(options: Self.options())
        let records = DeterminismTests.workload(a, seed: 33, count: 1_500)
        let log = MemoryLog()
        for chunk in stride(from: 0, to: records.count, by: 100) {
            try a.store.apply(Array(records[chunk..<min(chunk + 100, records.count)]))
            try publishUnit(a.store, to: log, epoch: 0)
        }
        let b = try StoreFixture(options: Self.options())
        log.chunk = 100
        var restore = ChangelogRestore(writer: "b")
        restore.chunkRows = 80
        var chunks = 0
        restore.isCancelled = { chunks >= 3 }
        restore.progress = { _, _ in chunks += 1 }
        #expect(throws: ChangelogRestore.Cancelled.self) { try restore.run(store: b.store, log: log) }
        let through = try #require(try b.store.restoreProgress()).through
        #expect(through > 0 && through < log.next - 100, "cut at \(through) of \(log.next)")
        restore.isCancelled = { false }
        let readsBefore = log.reads.count
        try restore.run(store: b.store, log: log)
        #expect(log.reads[readsBefore + 1] == through + 1)  // second pass resumed
        try expectSame(a.store, b.store)
        log.low = 10
        let c = try StoreFixture(options: Self.options())
        #expect(throws: ChangelogGap.self) { try ChangelogRestore(writer: "c").run(store: c.store, log: log) }
    }

    /// The changelog topic was deleted and recreated: a store that survived publishes all of
    /// itself again, and a store restored from the new log is whole.
    @Test func recreatedChangelogIsReseededFromASurvivingStore() throws {
        let a = try StoreFixture(options: Self.options())
        let records = DeterminismTests.workload(a, seed: 44, count: 600)
        let old = MemoryLog()
        try a.store.apply(records)
        try publishUnit(a.store, to: old, epoch: 0)
        let fresh = MemoryLog()
        let report = try ChangelogRestore(writer: "a").run(store: a.store, log: fresh)
        #expect(report.kind == .bootstrapped)
        try publishUnit(a.store, to: fresh, epoch: report.epoch)
        let b = try restoredCopy(of: fresh, writer: "b")
        try expectSame(a.store, b.store)
    }

    /// A claim that landed while its restore failed (the acknowledgement was lost, the disk
    /// filled at the end) is this store's own: the next restore keeps the store.
    @Test func ownClaimFromAFailedRestoreIsNotAnotherWorkers() throws {
        final class LosesAcks: ChangelogLog {
            let inner: InMemoryChangelog
            var failAppends = true
            init(_ inner: InMemoryChangelog) { self.inner = inner }
            func bounds() throws -> (low: Int64, high: Int64) { try inner.bounds() }
            func read(from: Int64, until: Int64, _ body: ([(offset: Int64, entry: ChangelogEntry)]) throws -> Bool) throws {
                try inner.read(from: from, until: until, body)
            }
            func append(_ entry: ChangelogEntry) throws -> Int64 {
                let at = try inner.append(entry)
                if failAppends { throw StoreError("test", "acknowledgement lost") }
                return at
            }
        }
        let a = try StoreFixture(options: Self.options())
        let records = DeterminismTests.workload(a, seed: 55, count: 400)
        let log = MemoryLog()
        try ChangelogRestore(writer: "a").run(store: a.store, log: log)
        try a.store.apply(Array(records[0..<200]))
        try publishUnit(a.store, to: log, epoch: 1, writer: "a")
        try a.store.apply(Array(records[200...]))  // not published yet
        let flaky = LosesAcks(log)
        #expect(throws: StoreError.self) { try ChangelogRestore(writer: "a").run(store: a.store, log: flaky) }
        flaky.failAppends = false
        let report = try ChangelogRestore(writer: "a").run(store: a.store, log: flaky)
        #expect(report.kind == .keptLocal)
        try publishUnit(a.store, to: log, epoch: report.epoch, writer: "a")
        let b = try restoredCopy(of: log, writer: "b")
        try expectSame(a.store, b.store)
    }

    /// A store that went back (its WAL lost after a kill): noticed against its own
    /// published markers and brought forward, not kept.
    @Test func storeThatWentBackIsBroughtForward() throws {
        let a = try StoreFixture(options: Self.options())
        let records = DeterminismTests.workload(a, seed: 66, count: 600)
        let log = MemoryLog()
        try ChangelogRestore(writer: "a").run(store: a.store, log: log)
        try a.store.apply(Array(records[0..<200]))
        try publishUnit(a.store, to: log, epoch: 1, writer: "a")
        // An old copy of the file: the state after the first 200 records.
        let old = a.dir.appendingPathComponent("old.sqlite").path
        try a.store.db.execute("VACUUM INTO '\(old)'")
        try a.store.apply(Array(records[200...]))
        try publishUnit(a.store, to: log, epoch: 1, writer: "a")
        let back = try PartitionStore(path: old, partition: 0, options: Self.options())
        defer { back.close() }
        let report = try ChangelogRestore(writer: "a").run(store: back, log: log)
        #expect(report.wentBack)
        #expect(report.rowsApplied > 0)
        let da = try a.store.canonicalDump().split(separator: "\n")
        let db = try back.canonicalDump().split(separator: "\n")
        if da != db { Issue.record("only in writer: \(Set(da).subtracting(db).prefix(3)); only in restored: \(Set(db).subtracting(da).prefix(3))") }
        try expectSame(a.store, back)
    }

    func expectSame(_ a: PartitionStore, _ b: PartitionStore, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(try a.canonicalDump() == b.canonicalDump(), sourceLocation: sourceLocation)
        #expect(try resultsRows(a) == resultsRows(b), sourceLocation: sourceLocation)
        #expect(a.appliedOffsets == b.appliedOffsets, sourceLocation: sourceLocation)
        #expect(a.streamTime == b.streamTime, sourceLocation: sourceLocation)
        #expect(a.publishedThrough == b.publishedThrough, sourceLocation: sourceLocation)
        #expect(a.nextSeq == b.nextSeq, sourceLocation: sourceLocation)
    }
}
