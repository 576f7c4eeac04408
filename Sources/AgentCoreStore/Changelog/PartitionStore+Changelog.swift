import AgentCoreModel
import CSQLite
import Foundation

/// The store's side of the changelog: the batch yields which rows it changed (noted by
/// `ChangeCapture`, kept in `changelog_dirty` in the batch's own transaction), the worker
/// publishes their current images and a marker, and acknowledges them here. A restore
/// applies changelog rows into a store and sets its position from a marker.
///
/// `store_meta` keys: `changelog_epoch` (the epoch this store last wrote or restored
/// under), `changelog_offset` (the changelog offset the store reflects: its last
/// acknowledged marker, or the claim after a restore), `restore_from` and
/// `restore_through` (a restore in progress: where it started, what it applied),
/// `changelog_synced_ms` (wall-clock time the store was last in step with the changelog: a
/// marker acknowledged, a restore or standby pass finished; never read by apply).
extension PartitionStore {
    /// Installs the change capture (from `init`, when `options.changelog`).
    func installCapture() throws {
        var positions: [UInt8: [String: Int32]] = [:]
        for t in ChangelogTable.all {
            var columns: [String: Int32] = [:]
            for row in try db.rows("PRAGMA table_info(\(t.name))") { columns[row[1].text!] = Int32(row[0].int!) }
            for c in t.columns where columns[c] == nil {
                throw StoreError("changelog_schema", "table \(t.name) has no column \(c) (ChangelogTable is out of date)")
            }
            positions[t.id] = columns
        }
        let c = ChangeCapture(positions: positions)
        if let h = db.handle { c.install(on: h) }
        capture = c
    }

    /// Where results blocks start in this store (see `resultBlocksFrom`), recorded by the
    /// first batch that needs it: 0 for a store that never published (all its results
    /// travel in blocks), else the next `seq` rounded up to a block: the rows before it
    /// may be in the changelog as rows of their own (written before blocks existed), and
    /// stay rows until they are deleted.
    func settleResultBlocksFrom() throws {
        let from = try changelogMark() == nil && !hasState() ? 0 : Self.blockAligned(nextSeq)
        try setMeta("changelog_result_blocks_from", .int(from))
        resultBlocksFrom = from
    }

    static func blockAligned(_ seq: Int64) -> Int64 {
        let b = ChangelogCodec.resultBlockSize
        return (seq + b - 1) / b * b
    }

    /// Writes the batch's noted changes into `changelog_dirty` (inside the batch's transaction).
    func recordCapturedChanges() throws {
        guard let c = capture, !c.isEmpty else { return }
        try db.run("INSERT INTO changelog_dirty(entries) VALUES(?)", [.blob(c.encoded())])
        c.reset()
    }

    /// Runs `body` with the capture suspended (physical deletes of rows already gone).
    func uncaptured<T>(_ body: () throws -> T) rethrows -> T {
        let was = capture?.suspended ?? false
        capture?.suspended = true
        defer { capture?.suspended = was }
        return try body()
    }

    // MARK: publishing

    /// The store's position now (what a marker published after its rows carries).
    public func changelogPosition() throws -> ChangelogPosition {
        var p = ChangelogPosition()
        p.appliedOffsets = appliedOffsets
        p.streamTime = streamTime
        p.publishedThrough = publishedThrough
        p.nextSeq = nextSeq
        p.applySettings = try db.rows("SELECT value FROM store_meta WHERE key='apply_settings'").first?.first?.text
        p.resultBlocksFrom = resultBlocksFrom
        p.versionSlots = versionSlots
        return p
    }

    /// The highest `changelog_dirty` batch, 0 when every change was acknowledged.
    public func changelogDirtyThrough() throws -> Int64 {
        try db.rows("SELECT coalesce(max(batch), 0) FROM changelog_dirty").first?.first?.int ?? 0
    }

    /// Calls `body` with every row that unacknowledged batches changed, as its changelog key
    /// and its current image (nil: the row is gone), in a fixed order; returns the
    /// `changelog_dirty` batch they cover and the position they are the state of. Read in
    /// one read transaction. Memory: the set of changed rows' ids, not their images.
    ///
    /// Context versions travel keyed by slot (`ChangelogCodec.slotKey`, S =
    /// `versionSlots` slots per context): each changed slot is sent with the retained
    /// version that sits in it now, or as a tombstone. A write that prunes the version S
    /// below it (a context at its history limit, with S the limit) changes one slot, so it
    /// costs one record, not a new row and a tombstone.
    public func forEachChangelogRecord(
        _ body: (_ key: [UInt8], _ value: [UInt8]?) throws -> Void
    ) throws -> (through: Int64, count: Int, position: ChangelogPosition) {
        try settleVersionSlots()
        let slots = versionSlots ?? 1
        // One read snapshot for the whole walk.
        return try db.inTransaction(.deferred) {
            var dirty = DirtySet()
            var through: Int64 = 0
            let s = try db.statement("SELECT batch, entries FROM changelog_dirty ORDER BY batch")
            while try s.step() {
                through = s.int(0)
                try dirty.add(encoded: s.bytes(1))
            }
            s.reset()
            var count = 0
            var image: [UInt8] = []
            var key: [UInt8] = []
            /// Emits the row the statement stands on, or a tombstone for `absentKey`.
            func emit(_ t: ChangelogTable, _ q: Statement, found: Bool, absentKey: [UInt8]?) throws {
                if found {
                    image.removeAll(keepingCapacity: true)
                    image.append(ChangelogCodec.rowFormat)
                    for c in 0..<t.columns.count { q.appendChangelogValue(Int32(c), to: &image) }
                    key.removeAll(keepingCapacity: true)
                    key.append(ChangelogCodec.rowKind)
                    key.append(t.id)
                    for c in t.keyIndexes { q.appendChangelogValue(Int32(c), to: &key) }
                    try body(key, image)
                } else if let absentKey {
                    try body(absentKey, nil)
                } else {
                    return
                }
                count += 1
            }
            let versions = ChangelogTable.versions
            /// Slots sent so far, and slots to send with their current value at the end
            /// (repeats included; sorted once, at the end).
            var sentSlots: [VersionSlot] = []
            var slotsToSend: [VersionSlot] = []
            /// Emits the version row `q` stands on (columns as `versions.columns`) under its
            /// slot key; `note`: remember the slot as sent.
            func emitVersion(_ q: Statement, note: Bool = true) throws {
                let cid = q.int(0)
                let slot = q.int(1) % slots
                image.removeAll(keepingCapacity: true)
                image.append(ChangelogCodec.rowFormat)
                for c in 0..<versions.columns.count { q.appendChangelogValue(Int32(c), to: &image) }
                try body(ChangelogCodec.slotKey(cid: cid, slots: slots, slot: slot), image)
                if note { sentSlots.append(VersionSlot(cid: cid, slot: slot)) }
                count += 1
            }
            // A move of every version to this slot count (`settleVersionSlots`), streamed
            // from the tables so that memory does not grow with the partition: the old key of
            // every version the changelog may hold under it (the rows on disk, including
            // pruned ones the sweep left, and versions pruned or deleted since the last
            // acknowledged unit) as a tombstone, then every retained version in its slot.
            // Old keys first, as below. Slots sent again later in the unit are the same
            // images (harmless); slots under this count never held anything before (the
            // count only grows), so an empty one needs no tombstone.
            if !dirty.movedFrom.isEmpty {
                func oldKey(_ old: Int64, _ cid: Int64, _ version: Int64) -> [UInt8] {
                    old == 0
                        ? ChangelogCodec.key(versions, [.int(cid), .int(version)])
                        : ChangelogCodec.slotKey(cid: cid, slots: old, slot: version % old)
                }
                let pruned = dirty.sortedPruned
                for old in dirty.movedFrom.sorted() {
                    var last: [UInt8] = []
                    let q = try db.statement("SELECT cid, version FROM agent_context_versions ORDER BY cid, version")
                    while try q.step() {
                        let k = oldKey(old, q.int(0), q.int(1))
                        if k == last { continue }  // a slot's versions: one tombstone
                        try body(k, nil)
                        count += 1
                        last = k
                    }
                    q.reset()
                    for p in pruned {
                        try body(oldKey(old, p.cid, p.rowid), nil)
                        count += 1
                    }
                }
                let q = try db.statement(
                    "SELECT \(versions.columns.map { "v.\($0)" }.joined(separator: ", ")) FROM agent_context_versions v"
                        + " JOIN agent_context_heads h ON h.cid = v.cid WHERE v.version >= h.oldest_version ORDER BY v.cid, v.version"
                )
                while try q.step() { try emitVersion(q, note: false) }
                q.reset()
            }
            // Version keys of another scheme (by number, from before slots; slots of another
            // count, before `settleVersionSlots` raised it; read after a marker by a
            // restore) go first, as tombstones: a restore deletes the versions such a
            // tombstone names (a slot's: every version in it), and this unit then sends
            // the slots of the retained ones among them again.
            var keys: [[UInt8]] = []
            for k in dirty.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                switch try ChangelogCodec.decodeKey(k) {
                case .row(let t, let values) where t.id == versions.id:
                    try body(k, nil)
                    count += 1
                    if case .int(let cid) = values[0], case .int(let version) = values[1] {
                        slotsToSend.append(VersionSlot(cid: cid, slot: version % slots))
                    }
                case .versionSlot(let cid, let n, let slot) where n != slots:
                    try body(k, nil)
                    count += 1
                    if let h = try contextRange(cid) {
                        var v = Self.newest(in: slot, of: n, atOrBelow: h.current)
                        while v >= h.oldest && v >= 1 {
                            slotsToSend.append(VersionSlot(cid: cid, slot: v % slots))
                            v -= n
                        }
                    }
                case .versionSlot(let cid, _, let slot):
                    slotsToSend.append(VersionSlot(cid: cid, slot: slot))
                default:
                    keys.append(k)
                }
            }
            // Rows by rowid (gone ones were noted by key when deleted), then deleted rows by
            // key: a key whose row is back (re-inserted) is sent with its image. A row and a
            // key may name the same row: the same image twice, harmless.
            // Rows of results blocks go with their block (noted as rows by
            // `markAllChanged`, or by a capture from before blocks were settled).
            let blocksFrom = resultBlocksFrom ?? Self.blockAligned(nextSeq)
            let resultsId = ChangelogTable.results.id
            let headsId = ChangelogTable.heads.id
            for row in dirty.sortedRows {
                if row.table == resultsId, row.rowid >= blocksFrom {
                    dirty.blocks.insert(row.rowid / ChangelogCodec.resultBlockSize)
                    continue
                }
                if row.table == headsId { continue }  // derived from versions by a restore
                guard let t = ChangelogTable.byId(row.table) else { continue }
                let q = try db.statement(t.byRowid)
                try q.bind(.int(row.rowid), at: 1)
                defer { q.reset() }
                if t.id == versions.id {
                    // A version pruned or deleted since is sent with its slot (noted then).
                    if try q.step() { try emitVersion(q) }
                    continue
                }
                try emit(t, q, found: try q.step(), absentKey: nil)
            }
            for k in keys {
                switch try ChangelogCodec.decodeKey(k) {
                case .row(let t, let values):
                    // Tombstones only: heads are derived (a head record of a store from
                    // before goes), and a results row key in the blocks' range (read after a
                    // marker by a restore) must not outlive its block, which is sent too.
                    let blockSeq = t.id == resultsId ? values[0].int.flatMap { $0 >= blocksFrom ? $0 : nil } : nil
                    if t.id == headsId || blockSeq != nil {
                        try body(k, nil)
                        count += 1
                        if let seq = blockSeq { dirty.blocks.insert(seq / ChangelogCodec.resultBlockSize) }
                        continue
                    }
                    let q = try db.statement(t.byKey)
                    try q.bind(values)
                    defer { q.reset() }
                    try emit(t, q, found: try q.step(), absentKey: k)
                case .resultBlock(let b):
                    dirty.blocks.insert(b)
                case .versionSlot, nil:
                    continue
                }
            }
            // Pruned and deleted versions: their slots, unless sent above (a write at the
            // history limit puts its new version in the slot of the one it prunes).
            for p in dirty.pruned { slotsToSend.append(VersionSlot(cid: p.cid, slot: p.rowid % slots)) }
            let sent = DirtySet.sortedUnique(sentSlots)
            var k = 0
            for slot in DirtySet.sortedUnique(slotsToSend) {
                while k < sent.count && sent[k] < slot { k += 1 }
                if k < sent.count && sent[k] == slot { continue }
                if let h = try contextRange(slot.cid) {
                    // The one retained version that can sit in the slot.
                    let v = Self.newest(in: slot.slot, of: slots, atOrBelow: h.current)
                    if v >= h.oldest && v >= 1 {
                        let q = try db.statement(versions.byKey)
                        try q.bind(.int(slot.cid), at: 1)
                        try q.bind(.int(v), at: 2)
                        defer { q.reset() }
                        if try q.step() {
                            try emitVersion(q)
                            continue
                        }
                    }
                }
                try body(ChangelogCodec.slotKey(cid: slot.cid, slots: slots, slot: slot.slot), nil)
                count += 1
            }
            // Results blocks: every row the block holds now, or a tombstone.
            let size = ChangelogCodec.resultBlockSize
            let results = ChangelogTable.results
            for b in dirty.blocks.sorted() {
                let q = try db.statement(Self.resultBlockRows)
                try q.bind(.int(b * size), at: 1)
                try q.bind(.int(b * size + size), at: 2)
                defer { q.reset() }
                image.removeAll(keepingCapacity: true)
                var n = 0
                while try q.step() {
                    for c in 0..<results.columns.count { q.appendChangelogValue(Int32(c), to: &image) }
                    n += 1
                }
                key = ChangelogCodec.blockKey(b)
                if n == 0 {
                    try body(key, nil)
                } else {
                    var value: [UInt8] = [ChangelogCodec.blockFormat]
                    value.reserveCapacity(image.count + 4)
                    ChangelogCodec.writeVarint(UInt64(n), to: &value)
                    value.append(contentsOf: image)
                    try body(key, value)
                }
                count += 1
            }
            return (through, count, try changelogPosition())
        }
    }

    /// A context's slot: `slot` = version modulo `versionSlots`.
    struct VersionSlot: Hashable, Comparable {
        var cid: Int64
        var slot: Int64
        static func < (a: Self, b: Self) -> Bool { (a.cid, a.slot) < (b.cid, b.slot) }
    }

    /// The highest version number at or below `current` that falls in `slot` of `slots`.
    static func newest(in slot: Int64, of slots: Int64, atOrBelow current: Int64) -> Int64 {
        current - ((current - slot) % slots + slots) % slots
    }

    /// A context's retained versions (its head), nil if it has none.
    func contextRange(_ cid: Int64) throws -> (current: Int64, oldest: Int64)? {
        let q = try db.statement(Self.headRange)
        try q.bind(.int(cid), at: 1)
        defer { q.reset() }
        return try q.step() ? (q.int(0), q.int(1)) : nil
    }

    static let headRange = HotStatement(
        slot: 15,
        sql: "SELECT current_version, oldest_version FROM agent_context_heads WHERE cid=?"
    )

    /// Settles how many slots per context the changelog keys versions by: the history limit
    /// (`StoreOptions.historyLimit`), so that a write at the limit puts its new version in
    /// the slot of the one it prunes. Never fewer than before: the versions a context holds
    /// (up to the limit it was last written under) must each have a slot of their own, so
    /// a lower limit keeps the count (its prunes then cost a tombstone each, as before
    /// slots). A store from before slots, or a higher limit, moves every version to the new
    /// keys in the next unit: a `changelog_dirty` entry notes the move, and the unit
    /// tombstones the old keys of every version the changelog may hold under them (the rows
    /// on disk, and versions pruned or deleted but not yet published) and sends every slot
    /// anew, streamed from the tables (`forEachChangelogRecord`, old keys first).
    /// `nothingToMove`: the caller knows the changelog holds no version of this store (it
    /// holds nothing of it, or the store has no version row and nothing unacknowledged).
    func settleVersionSlots(nothingToMove known: Bool = false) throws {
        let want = Int64(max(1, options.historyLimit))
        if let s = versionSlots, s >= want { return }
        let old = versionSlots
        try db.inTransaction {
            // A store that never acknowledged a unit has no versions in the changelog under
            // old keys (units it sent without their acknowledgement are read as keys after
            // the last marker by the next restore, and sent again by it), nor has one with
            // no version row and nothing unacknowledged.
            if !known, try changelogMark() != nil, try !nothingToMove() {
                // The move itself is done by the next unit (`forEachChangelogRecord`), from
                // the tables as they are then: only this note is kept (0: number keys).
                var out: [UInt8] = [5]
                ChangelogCodec.writeVarint(UInt64(bitPattern: old ?? 0), to: &out)
                try db.run("INSERT INTO changelog_dirty(entries) VALUES(?)", [.blob(out)])
            }
            try setMeta("changelog_version_slots", .int(want))
        }
        versionSlots = want
    }

    /// No version row and nothing unacknowledged: no version is in the changelog under any key.
    private func nothingToMove() throws -> Bool {
        try db.rows("SELECT NOT EXISTS(SELECT 1 FROM agent_context_versions) AND NOT EXISTS(SELECT 1 FROM changelog_dirty)")
            .first?.first?.int == 1
    }

    static let resultBlockRows = HotStatement(
        slot: 14,
        sql: "SELECT \(ChangelogTable.results.columns.joined(separator: ", ")) FROM results WHERE seq >= ? AND seq < ? ORDER BY seq"
    )

    /// The changelog acknowledged the rows of batches up to `through` and the marker after
    /// them at `offset` (under `epoch`).
    public func acknowledgeChangelog(through: Int64, epoch: Int64, offset: Int64, atMillis now: Int64 = wallClockMillis()) throws {
        try acknowledge(outboxThrough: nil, changelog: (through, epoch, offset), atMillis: now)
    }

    /// When the store was last in step with the changelog (wall-clock milliseconds), nil
    /// for a store from before this was recorded.
    public func changelogSyncedAt() throws -> Int64? {
        try db.rows("SELECT value FROM store_meta WHERE key='changelog_synced_ms'").first?.first?.int
    }

    /// Wall-clock milliseconds since 1970, for `changelog_synced_ms` (not for apply, which
    /// never reads the clock).
    public static func wallClockMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// The epoch and changelog offset this store reflects, nil for a store that never
    /// published or restored (a new store, or one from before the changelog).
    public func changelogMark() throws -> (epoch: Int64, offset: Int64)? {
        let meta = try db.rows("SELECT key, value FROM store_meta WHERE key IN ('changelog_epoch', 'changelog_offset')")
        var m: [String: Int64] = [:]
        for r in meta { m[r[0].text!] = r[1].int }
        guard let e = m["changelog_epoch"], let o = m["changelog_offset"] else { return nil }
        return (e, o)
    }

    /// Whether the store holds any applied state (results, offsets or rows).
    public func hasState() throws -> Bool {
        try db.rows(
            "SELECT EXISTS(SELECT 1 FROM applied_offsets) OR EXISTS(SELECT 1 FROM results) OR EXISTS(SELECT 1 FROM workspaces) OR EXISTS(SELECT 1 FROM agent_definitions)"
        ).first?.first?.int == 1
    }

    /// Notes every live row as changed: a store that holds state but never published it
    /// (from before the changelog, or written with it off) sends a full image once.
    public func markAllChanged() throws {
        // The changelog holds none of this store: its versions go to slots directly.
        try settleVersionSlots(nothingToMove: true)
        try db.inTransaction {
            for t in ChangelogTable.all {
                let s = try db.statement("SELECT rowid FROM \(t.name) ORDER BY rowid")
                var out: [UInt8] = []
                while try s.step() {
                    out.append(1)
                    out.append(t.id)
                    ChangelogCodec.writeVarint(UInt64(bitPattern: s.int(0)), to: &out)
                    if out.count > 1 << 20 {
                        try db.run("INSERT INTO changelog_dirty(entries) VALUES(?)", [.blob(out)])
                        out.removeAll(keepingCapacity: true)
                    }
                }
                s.reset()
                if !out.isEmpty { try db.run("INSERT INTO changelog_dirty(entries) VALUES(?)", [.blob(out)]) }
            }
        }
    }

    // MARK: restoring

    /// Records that the worker lost the partition while holding this store (its group
    /// session expired: another worker may have claimed it and voided what this one wrote
    /// since). The next restore rebuilds the store instead of trusting it.
    public func markLostOwnership() throws {
        try setMeta("changelog_lost", .int(1))
    }

    func lostOwnership() throws -> Bool {
        try db.rows("SELECT value FROM store_meta WHERE key='changelog_lost'").first?.first?.int == 1
    }

    /// The epoch of a claim this store is about to append or appended without finishing its
    /// restore (a full disk at the end, say): the next restore knows that claim is its own.
    public func pendingClaim() throws -> Int64? {
        try db.rows("SELECT value FROM store_meta WHERE key='changelog_claiming'").first?.first?.int
    }

    public func notePendingClaim(_ epoch: Int64) throws {
        try setMeta("changelog_claiming", .int(epoch))
    }

    /// A restore in progress: the changelog offset it started from and the last offset
    /// it applied (resume after it).
    public func restoreProgress() throws -> (from: Int64, through: Int64)? {
        let rows = try db.rows("SELECT key, value FROM store_meta WHERE key IN ('restore_from', 'restore_through')")
        var m: [String: Int64] = [:]
        for r in rows { m[r[0].text!] = r[1].int }
        guard let from = m["restore_from"] else { return nil }
        return (from, m["restore_through"] ?? from - 1)
    }

    /// Starts (or resumes) a restore from changelog offset `from`: until
    /// `finishRestore`, the store must not apply input.
    public func beginRestore(from: Int64) throws {
        unpublished.removeAll()  // the results rows are rewritten: read them again afterwards
        try db.inTransaction {
            if try restoreProgress() == nil {
                // Heads are derived from version rows (`deriveHeads`): pruned rows the
                // sweep has not deleted yet (left by this store's own apply) go first.
                if prunedPending != 0 {
                    try uncaptured {
                        try db.run(
                            """
                            DELETE FROM agent_context_versions WHERE rowid IN (
                              SELECT v.rowid FROM agent_context_heads h
                              JOIN agent_context_versions v ON v.cid = h.cid AND v.version < h.oldest_version)
                            """
                        )
                    }
                    prunedPending = 0
                    try setMeta("versions_pruned_pending", .int(0))
                }
                try setMeta("restore_from", .int(from))
                try setMeta("restore_through", .int(from - 1))
            }
        }
    }

    /// Applies changelog rows (key, image or nil) in one transaction and records `through`
    /// as the last changelog offset applied. Foreign keys are not checked: a unit's rows
    /// come in table order and compaction reorders them; the marker's state is whole.
    public func applyChangelog(_ rows: [(key: [UInt8], value: [UInt8]?)], through: Int64) throws {
        try db.execute("PRAGMA foreign_keys=OFF")
        defer { try? db.execute("PRAGMA foreign_keys=ON") }
        try db.inTransaction {
            try uncaptured {
                let size = ChangelogCodec.resultBlockSize
                var contexts = Set<Int64>()
                /// Per context: no version row below this (a bound, read once per call).
                var lowest: [Int64: Int64] = [:]
                for r in rows {
                    switch try ChangelogCodec.decodeKey(r.key) {
                    case .row(let t, let keyValues):
                        if t.id == ChangelogTable.versions.id || t.id == ChangelogTable.heads.id, case .int(let cid) = keyValues[0] {
                            contexts.insert(cid)
                        }
                        if let v = r.value {
                            let values = try ChangelogCodec.decodeImage(v, table: t)
                            try db.run(t.upsert, values)
                        } else {
                            try db.run(t.delete, keyValues)
                        }
                    case .resultBlock(let b):
                        // The block's rows replace whatever the store holds in its range.
                        try db.run("DELETE FROM results WHERE seq >= ? AND seq < ?", [.int(b * size), .int(b * size + size)])
                        guard let v = r.value else { continue }
                        for values in try ChangelogCodec.decodeBlock(v) {
                            guard case .int(let seq) = values[0], seq >= b * size, seq < b * size + size else {
                                throw StoreError("corrupt_changelog", "changelog results block \(b) holds a row outside it")
                            }
                            try db.run(ChangelogTable.results.upsert, values)
                        }
                    case .versionSlot(let cid, let slots, let slot):
                        // The slot's version replaces every other version in the slot.
                        contexts.insert(cid)
                        guard let v = r.value else {
                            try db.run(Self.deleteSlot, [.int(cid), .int(slots), .int(slot)])
                            continue
                        }
                        let values = try ChangelogCodec.decodeImage(v, table: ChangelogTable.versions)
                        guard values[0] == .int(cid), case .int(let version) = values[1], version >= 1, version % slots == slot else {
                            throw StoreError("corrupt_changelog", "changelog version slot \(slot)/\(slots) of context \(cid) holds another row")
                        }
                        // A slot holds one version at any point of the log: the one before is
                        // `version` less `slots`, or less a multiple of it when compaction
                        // dropped the records between, never below the context's lowest row.
                        let floor: Int64
                        if let known = lowest[cid] {
                            floor = min(known, version)
                        } else {
                            let low = try db.statement(Self.lowestVersion)
                            try low.bind(.int(cid), at: 1)
                            floor = min(try low.step() ? low.int(0) : version, version)
                            low.reset()
                        }
                        lowest[cid] = floor
                        try db.run(ChangelogTable.versions.upsert, values)
                        var older = version - slots
                        while older >= floor {
                            let d = try db.statement(Self.deleteVersion)
                            try d.bind(.int(cid), at: 1)
                            try d.bind(.int(older), at: 2)
                            _ = try d.step()
                            d.reset()
                            if db.changes > 0 { break }
                            older -= slots
                        }
                    case nil:
                        continue
                    }
                }
                try deriveHeads(of: contexts)
            }
            try setMeta("restore_through", .int(through))
        }
    }

    static let deleteSlot = "DELETE FROM agent_context_versions WHERE cid = ?1 AND version % ?2 = ?3"
    static let lowestVersion = HotStatement(
        slot: 12,
        sql: "SELECT min(version) FROM agent_context_versions WHERE cid = ? HAVING count(*) > 0"
    )
    static let deleteVersion = HotStatement(slot: 13, sql: "DELETE FROM agent_context_versions WHERE cid = ? AND version = ?")

    /// Sets the heads of `contexts` from their version rows (the changelog carries no
    /// head records): the current version is the highest row, the oldest retained the
    /// lowest row at or above the head's previous `oldest_version` (rows below it are
    /// pruned ones the sweep has not deleted yet; pruned versions the changelog carried
    /// were deleted by their tombstones). A context with no such row has no head.
    func deriveHeads(of contexts: Set<Int64>) throws {
        for cid in contexts.sorted() {
            try db.run(
                """
                INSERT OR REPLACE INTO agent_context_heads(cid, current_version, oldest_version)
                  SELECT ?1, max(version), min(version) FROM agent_context_versions
                  WHERE cid = ?1 AND version >= coalesce((SELECT oldest_version FROM agent_context_heads WHERE cid = ?1), 1)
                  HAVING count(*) > 0
                """,
                [.int(cid)]
            )
            if db.changes == 0 { try db.run("DELETE FROM agent_context_heads WHERE cid=?", [.int(cid)]) }
        }
    }

    /// Ends a restore: sets the store's position to the marker's (nil: keep the store's
    /// own, nothing was restored past it), records the new owner's `epoch` and its claim's
    /// `offset`, and notes `compensate` (keys read after the marker) as changed, so that
    /// their current images are published right after the claim.
    public func finishRestore(position: ChangelogPosition?, epoch: Int64, offset: Int64, compensate: Set<[UInt8]>) throws {
        try finishApplying(position: position, epoch: epoch, offset: offset, compensate: compensate, standby: false)
        // A store with no version to move (a new one) settles its slots now, so that its
        // first unit holds no tombstone of keys it never sent. Others move theirs in their
        // next unit: changes of its own now would read as a diverged store to a restore.
        if try nothingToMove() { try settleVersionSlots(nothingToMove: true) }
    }

    /// Ends a standby's pass (`ChangelogRestore.follow`): the store stands at the marker at
    /// `offset` (of `epoch`'s writer) and is marked as a standby copy, which claimed nothing.
    public func finishFollow(position: ChangelogPosition, epoch: Int64, offset: Int64) throws {
        try finishApplying(position: position, epoch: epoch, offset: offset, compensate: [], standby: true)
    }

    /// Whether the store's mark is a standby's (it follows another worker's units and never
    /// claimed the partition since).
    public func isStandbyCopy() throws -> Bool {
        try db.rows("SELECT value FROM store_meta WHERE key='changelog_standby'").first?.first?.int == 1
    }

    private func finishApplying(
        position: ChangelogPosition?,
        epoch: Int64,
        offset: Int64,
        compensate: Set<[UInt8]>,
        standby: Bool
    ) throws {
        try db.inTransaction {
            if standby {
                try setMeta("changelog_standby", .int(1))
            } else {
                try db.run("DELETE FROM store_meta WHERE key='changelog_standby'")
            }
            if let p = position {
                try db.run("DELETE FROM applied_offsets")
                for (t, o) in p.appliedOffsets.sorted(by: { $0.key < $1.key }) {
                    try db.run("INSERT INTO applied_offsets(topic, offset) VALUES(?, ?)", [.text(t), .int(o)])
                }
                if let st = p.streamTime {
                    try setMeta("stream_time", .int(st))
                } else {
                    try db.run("DELETE FROM store_meta WHERE key='stream_time'")
                }
                try setMeta("published_through", .int(p.publishedThrough))
                if let s = p.applySettings { try setMeta("apply_settings", .text(s)) }
                // Pruned version rows were deleted when the restore began, and the
                // changelog's pruned versions came with their tombstones: none is left.
                try setMeta("versions_pruned_pending", .int(0))
                // Results rows of the old store's own past beyond the marker are not state.
                try db.run("DELETE FROM results WHERE seq >= ?", [.int(p.nextSeq)])
                // A marker from before results blocks: the rows it covers may be row records.
                let blocksFrom = p.resultBlocksFrom ?? Self.blockAligned(p.nextSeq)
                try setMeta("changelog_result_blocks_from", .int(blocksFrom))
                // The marker's slot count (nil: versions are keyed by number there; the
                // next unit moves them to slots, see `settleVersionSlots`).
                if let n = p.versionSlots {
                    try setMeta("changelog_version_slots", .int(n))
                } else {
                    try db.run("DELETE FROM store_meta WHERE key='changelog_version_slots'")
                }
            }
            if !compensate.isEmpty {
                var out: [UInt8] = []
                for k in compensate.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                    out.append(2)
                    ChangelogCodec.writeVarint(UInt64(k.count), to: &out)
                    out.append(contentsOf: k)
                }
                try db.run("INSERT INTO changelog_dirty(entries) VALUES(?)", [.blob(out)])
            }
            try setMeta("changelog_epoch", .int(epoch))
            try setMeta("changelog_offset", .int(offset))
            try setMeta("changelog_synced_ms", .int(Self.wallClockMillis()))
            try db.run("DELETE FROM store_meta WHERE key IN ('restore_from', 'restore_through', 'changelog_claiming')")
        }
        commandIndexLoaded = false  // the command index is rebuilt from the restored rows
        try loadPositions()
    }
}
