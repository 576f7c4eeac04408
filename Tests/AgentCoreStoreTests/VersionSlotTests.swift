import AgentCoreModel
import Foundation
import Testing

@testable import AgentCoreStore

/// Context versions travel in the changelog keyed by slot (`ChangelogCodec.slotKey`): a
/// write at the history limit replaces the slot of the version it prunes, so it costs one
/// record instead of the new version's and the pruned one's tombstone. Stores and logs from
/// before slots, and a history limit raised or lowered, keep every restore equal to the
/// writer, from the whole log and from a compacted one.
@Suite struct VersionSlotTests {
    /// What a unit's records are, by kind.
    struct Counts: Equatable {
        var slotImages = 0
        var slotTombstones = 0
        var numberKeys = 0
    }

    static func counts(_ log: MemoryLog, from: Int = 0, slots: Int64? = nil) throws -> Counts {
        var c = Counts()
        for r in log.records.dropFirst(from) {
            guard case .row(let k, let value, _) = r.entry else { continue }
            switch try ChangelogCodec.decodeKey(k) {
            case .versionSlot(_, let n, _) where slots == nil || n == slots:
                if value == nil { c.slotTombstones += 1 } else { c.slotImages += 1 }
            case .row(let t, _) where t.id == ChangelogTable.versions.id:
                c.numberKeys += 1
            default:
                break
            }
        }
        return c
    }

    func write(_ f: StoreFixture, _ n: Int, instance: String = "i1") -> [InputRecord] {
        (0..<n).map { i in
            f.command("context.write", ["instance_id": .string(instance), "name": "c", "data": ["i": .int(Int64(i))]])
        }
    }

    @Test func aWriteAtTheLimitIsOneRecord() throws {
        let a = try StoreFixture(options: ChangelogTests.options())  // history limit 4
        try a.registerDefinition()
        _ = try a.spawn("i1")
        let log = MemoryLog()
        try publishUnit(a.store, to: log, epoch: 0)
        // Ten versions in one unit: the four retained ones, one per slot, nothing else.
        var at = log.records.count
        try a.store.apply(write(a, 10))
        try publishUnit(a.store, to: log, epoch: 0)
        #expect(try Self.counts(log, from: at) == Counts(slotImages: 4))
        // One write per unit, each pruning the version four below it: one record each.
        for _ in 0..<5 {
            at = log.records.count
            try a.store.apply(write(a, 1))
            try publishUnit(a.store, to: log, epoch: 0)
            #expect(try Self.counts(log, from: at) == Counts(slotImages: 1))
        }
        #expect(try a.store.db.rows("SELECT value FROM store_meta WHERE key='changelog_version_slots'").first?.first?.int == 4)
        let b = try restoredCopy(of: log, writer: "b")
        try ChangelogTests().expectSame(a.store, b.store)
        #expect(b.store.versionSlots == 4)
        log.compact(dropTombstones: true)
        #expect(try Self.counts(log) == Counts(slotImages: 4))
        let c = try restoredCopy(of: log, writer: "c")
        try ChangelogTests().expectSame(a.store, c.store)
        // Removing the instance deletes its versions: a tombstone per slot.
        let back = try ChangelogRestore(writer: "a").run(store: a.store, log: log)  // c claimed meanwhile
        at = log.records.count
        try a.send("instance.remove", ["instance_id": "i1"])
        try publishUnit(a.store, to: log, epoch: back.epoch)
        #expect(try Self.counts(log, from: at) == Counts(slotTombstones: 4))
        let d = try restoredCopy(of: log, writer: "d")
        try ChangelogTests().expectSame(a.store, d.store)
        // A new store (restored from an empty log, as a worker does first) sends no key of
        // another scheme in its first unit.
        let fresh = try StoreFixture(options: ChangelogTests.options())
        let empty = MemoryLog()
        let claim = try ChangelogRestore(writer: "f").run(store: fresh.store, log: empty)
        #expect(fresh.store.versionSlots == 4)
        try fresh.registerDefinition()
        _ = try fresh.spawn("i1")
        try fresh.store.apply(write(fresh, 6))
        try publishUnit(fresh.store, to: empty, epoch: claim.epoch, writer: "f")
        #expect(try Self.counts(empty) == Counts(slotImages: 4))
        // Nor does a store with state that never published, sent whole into an empty
        // changelog (`bootstrapped`).
        let boot = try StoreFixture(options: ChangelogTests.options())
        try boot.registerDefinition()
        _ = try boot.spawn("i1")
        try boot.store.apply(write(boot, 6))
        #expect(boot.store.versionSlots == nil)
        let bootLog = MemoryLog()
        let seeded = try ChangelogRestore(writer: "boot").run(store: boot.store, log: bootLog)
        #expect(seeded.kind == .bootstrapped)
        try publishUnit(boot.store, to: bootLog, epoch: seeded.epoch, writer: "boot")
        #expect(try Self.counts(bootLog) == Counts(slotImages: 4))
        let bootCopy = try restoredCopy(of: bootLog, writer: "copy")
        try ChangelogTests().expectSame(boot.store, bootCopy.store)
    }

    /// The log a publisher from before slots would have written for the same units:
    /// versions keyed by number, a pruned or deleted one tombstoned, markers without a slot
    /// count. Returns it and the offset each marker moved to.
    static func numberKeyedLog(_ log: MemoryLog) throws -> (MemoryLog, [Int64: Int64]) {
        let out = MemoryLog()
        var moved: [Int64: Int64] = [:]
        var held: [ChangelogCodecSlot: Int64] = [:]
        for r in log.records {
            switch r.entry {
            case .row(let k, let value, let epoch):
                guard case .versionSlot(let cid, let n, let slot)? = try ChangelogCodec.decodeKey(k) else {
                    _ = try out.append(r.entry)
                    continue
                }
                let at = ChangelogCodecSlot(cid: cid, slots: n, slot: slot)
                var version: Int64?
                if let value, case .int(let v) = try ChangelogCodec.decodeImage(value, table: ChangelogTable.versions)[1] { version = v }
                if let old = held[at], old != version {
                    _ = try out.append(.row(key: ChangelogCodec.key(ChangelogTable.versions, [.int(cid), .int(old)]), value: nil, epoch: epoch))
                }
                held[at] = version
                if let version {
                    _ = try out.append(
                        .row(key: ChangelogCodec.key(ChangelogTable.versions, [.int(cid), .int(version)]), value: value, epoch: epoch)
                    )
                }
            case .marker(let epoch, let writer, var position):
                position.versionSlots = nil
                moved[r.offset] = try out.append(.marker(epoch: epoch, writer: writer, position: position))
            case .claim:
                Issue.record("claims are not converted")
            }
        }
        return (out, moved)
    }

    struct ChangelogCodecSlot: Hashable {
        var cid: Int64
        var slots: Int64
        var slot: Int64
    }

    /// A store whose versions the changelog holds keyed by number (written before slots)
    /// moves them to slots in its next unit; then its history limit grows (the next unit
    /// moves them to more slots, and that unit is cut short and compensated by the next
    /// owner) and shrinks (the slot count stays). Every restore equals the writer.
    @Test func versionsMoveToSlotsFromNumberKeysAndWhenTheLimitChanges() throws {
        let a = try StoreFixture(options: ChangelogTests.options())  // history limit 4
        let records = DeterminismTests.workload(a, seed: 77, count: 3_000)
        let slotLog = MemoryLog()
        for chunk in stride(from: 0, to: 900, by: 60) {
            try a.store.apply(Array(records[chunk..<(chunk + 60)]))
            try publishUnit(a.store, to: slotLog, epoch: 0, writer: "a")
        }
        // As if a had published before slots: the same units keyed by number.
        let (log, moved) = try Self.numberKeyedLog(slotLog)
        #expect(try Self.counts(log).numberKeys > 100)
        let mark = try #require(try a.store.changelogMark())
        try a.store.setMeta("changelog_offset", .int(try #require(moved[mark.offset])))
        try a.store.db.run("DELETE FROM store_meta WHERE key='changelog_version_slots'")
        a.store.versionSlots = nil
        // A copy restored from that log is the writer (the restore reads number keys).
        let old = try restoredCopy(of: log, writer: "old")
        try ChangelogTests().expectSame(a.store, old.store)
        #expect(old.store.versionSlots == nil)
        let epoch = try ChangelogRestore(writer: "a").run(store: a.store, log: log).epoch  // a takes it back
        // The upgrade: a's next unit tombstones every number key it may have sent and sends
        // the slots; from then on no number key.
        let upgradedAt = log.records.count
        try a.store.apply(Array(records[900..<960]))
        try publishUnit(a.store, to: log, epoch: epoch, writer: "a")
        let upgrade = try Self.counts(log, from: upgradedAt)
        #expect(upgrade.numberKeys > 0)
        var upgradeNumberImages = 0
        for r in log.records.dropFirst(upgradedAt) {
            if case .row(let k, _?, _) = r.entry, k[1] == ChangelogTable.versions.id { upgradeNumberImages += 1 }
        }
        #expect(upgradeNumberImages == 0)
        #expect(a.store.versionSlots == 4)
        // Right after the move, a restore from the log is the writer: every retained version
        // was sent again in its slot, also those no batch of the unit touched.
        let justMoved = try restoredCopy(of: log, writer: "m")
        try ChangelogTests().expectSame(a.store, justMoved.store)
        let epochAfterMove = try ChangelogRestore(writer: "a").run(store: a.store, log: log).epoch  // m claimed
        let afterUpgrade = log.records.count
        for chunk in stride(from: 960, to: 1_500, by: 60) {
            try a.store.apply(Array(records[chunk..<(chunk + 60)]))
            try publishUnit(a.store, to: log, epoch: epochAfterMove, writer: "a")
        }
        #expect(try Self.counts(log, from: afterUpgrade).numberKeys == 0)
        // The copy from before the upgrade takes the tail; a new one reads the whole log.
        let b = try restoredCopy(of: log, writer: "b")
        try ChangelogTests().expectSame(a.store, b.store)
        let tail = try ChangelogRestore(writer: "old").run(store: old.store, log: log)
        #expect(tail.kind == .appliedTail)
        try ChangelogTests().expectSame(a.store, old.store)

        // The history limit grows to 6: the next unit moves every version to 6 slots, and
        // the writer dies before its marker. The next owner (limit 4, restored at 4 slots)
        // sends what that unit touched again, then goes on.
        let path = a.store.path
        a.store.close()
        var six = ChangelogTests.options()
        six.historyLimit = 6
        a.store = try PartitionStore(path: path, partition: 0, options: six)
        let epochA = try ChangelogRestore(writer: "a").run(store: a.store, log: log).epoch  // old claimed meanwhile
        try a.store.apply(Array(records[1_500..<1_560]))
        let cut = log.records.count
        try publishUnit(a.store, to: log, epoch: epochA, writer: "a", marker: false)
        #expect(a.store.versionSlots == 6)
        #expect(try Self.counts(log, from: cut, slots: 4).slotTombstones > 0)
        #expect(try Self.counts(log, from: cut, slots: 6).slotImages > 0)
        let next = try StoreFixture(options: ChangelogTests.options())
        let took = try ChangelogRestore(writer: "next").run(store: next.store, log: log)
        #expect(took.compensated > 0)
        #expect(next.store.versionSlots == 4)
        for chunk in stride(from: 1_500, to: 2_100, by: 60) {
            try next.store.apply(Array(records[chunk..<(chunk + 60)]))
            try publishUnit(next.store, to: log, epoch: took.epoch, writer: "next")
        }
        let c = try restoredCopy(of: log, writer: "c")
        try ChangelogTests().expectSame(next.store, c.store)
        let again = try ChangelogRestore(writer: "next").run(store: next.store, log: log)  // c claimed meanwhile

        // Then at 6 for a while, then at 3 (the slot count stays 6: a prune costs a
        // tombstone again while a context still holds more versions than 3).
        for limit in [6, 3] {
            let p = next.store.path
            next.store.close()
            var o = ChangelogTests.options()
            o.historyLimit = limit
            next.store = try PartitionStore(path: p, partition: 0, options: o)
            let from = limit == 6 ? 2_100 : 2_550
            for chunk in stride(from: from, to: from + 450, by: 50) {
                try next.store.apply(Array(records[chunk..<min(chunk + 50, records.count)]))
                try publishUnit(next.store, to: log, epoch: again.epoch, writer: "next")
            }
            #expect(next.store.versionSlots == 6)
        }
        for compacted in [false, true] {
            if compacted { log.compact(dropTombstones: true) }
            let c = try restoredCopy(of: log, writer: "c\(compacted)")
            try ChangelogTests().expectSame(next.store, c.store)
        }
        // Compacted, one record per retained version, as per live row of other tables.
        #expect(log.records.count { if case .row(_, _?, _) = $0.entry { true } else { false } } == (try liveRows(next.store)))
    }

    /// A unit cut short may leave a slot key of another slot count after the last marker
    /// (a writer whose limit was higher). The next owner tombstones it, which deletes every
    /// version in that slot in a restore, and sends those versions again under its own
    /// slots after it.
    @Test func aCompensatedKeyOfAnotherSlotCountKeepsTheVersionsItNamed() throws {
        let a = try StoreFixture(options: ChangelogTests.options())  // history limit 4
        try a.registerDefinition()
        _ = try a.spawn("i1")
        try a.store.apply(write(a, 7))
        let log = MemoryLog()
        try publishUnit(a.store, to: log, epoch: 0)
        // Version 7 (slot 1 of 6) as a writer with 6 slots sent it, then died.
        let row = try #require(
            try a.store.db.rows(
                "SELECT cid, version, data, change_description, created_by, byte_size, mode, created_ms FROM agent_context_versions WHERE version = 7"
            ).first
        )
        let cid = try #require(row[0].int)
        _ = try log.append(.row(key: ChangelogCodec.slotKey(cid: cid, slots: 6, slot: 1), value: ChangelogCodec.image(row), epoch: 0))
        let b = try StoreFixture(options: ChangelogTests.options())
        let took = try ChangelogRestore(writer: "b").run(store: b.store, log: log)
        #expect(took.compensated == 1)
        let at = log.records.count
        try publishUnit(b.store, to: log, epoch: took.epoch, writer: "b")
        #expect(try Self.counts(log, from: at, slots: 6) == Counts(slotTombstones: 1))
        #expect(try Self.counts(log, from: at, slots: 4) == Counts(slotImages: 1))
        for compacted in [false, true] {
            if compacted { log.compact(dropTombstones: true) }
            let c = try restoredCopy(of: log, writer: "c\(compacted)")
            try ChangelogTests().expectSame(a.store, c.store)
        }
    }

    @Test func slotKeysRoundTripAndMalformedOnesAreRefused() throws {
        let k = ChangelogCodec.slotKey(cid: 12, slots: 50, slot: 49)
        #expect(try ChangelogCodec.decodeKey(k) == .versionSlot(cid: 12, slots: 50, slot: 49))
        for bad in [
            ChangelogCodec.slotKey(cid: 12, slots: 50, slot: 50), ChangelogCodec.slotKey(cid: 12, slots: 0, slot: 0),
            Array(k.dropLast()), k + [0],
        ] {
            #expect(throws: StoreError.self) { _ = try ChangelogCodec.decodeKey(bad) }
        }
        // A slot record whose row is not of its slot is refused by a restore.
        let a = try StoreFixture(options: ChangelogTests.options())
        try a.registerDefinition()
        _ = try a.spawn("i1")
        try a.store.apply(write(a, 2))
        let log = MemoryLog()
        try publishUnit(a.store, to: log, epoch: 0)
        let wrong = log.records.firstIndex { if case .row(let k, _?, _) = $0.entry { k[1] == ChangelogCodec.versionSlotTable } else { false } }
        let image = try #require(wrong.flatMap { i -> [UInt8]? in if case .row(_, let v, _) = log.records[i].entry { v } else { nil } })
        let bad = MemoryLog()
        for r in log.records {
            if case .row(let k, _?, let e) = r.entry, k[1] == ChangelogCodec.versionSlotTable {
                _ = try bad.append(.row(key: ChangelogCodec.slotKey(cid: 1, slots: 4, slot: 3), value: image, epoch: e))
            } else {
                _ = try bad.append(r.entry)
            }
        }
        #expect(throws: StoreError.self) { _ = try restoredCopy(of: bad, writer: "b") }
    }
}
