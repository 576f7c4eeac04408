import CSQLite

#if canImport(Glibc)
import Glibc
#endif

/// Notes which logical rows a batch changes, for the changelog, through SQLite's pre-update
/// hook: every INSERT, UPDATE and DELETE of a `ChangelogTable` on the store's connection,
/// whichever code path issued it, so a new write path cannot forget to report itself.
///
/// The hook records *which* rows changed, never their values: the images are read from the
/// tables when the changelog is published (`PartitionStore.forEachChangelogRecord`), so a
/// change undone by a savepoint or a failed statement publishes the row as it really is.
/// Inserted and updated rows are noted by rowid; deleted rows by their changelog key (the
/// row is gone by publishing time), except versions: a deleted version row, and every
/// version a context head prunes when its `oldest_version` moves up, is noted as
/// `(cid, version)` and published as its slot's value. Pruned versions are logically gone
/// at once, and their rows are removed later by the sweep, whose physical deletes are not
/// captured (`suspended`).
///
/// Used on the store's applying thread only.
final class ChangeCapture {
    /// While true, changes are not noted (the sweep's deletes of rows already pruned).
    var suspended = false
    /// Rows inserted or updated: (table id, rowid).
    private(set) var rows: [(UInt8, Int64)] = []
    /// Rows deleted: their changelog keys.
    private(set) var keys: [[UInt8]] = []
    /// Versions pruned: (cid, version).
    private(set) var pruned: [(Int64, Int64)] = []
    /// Results blocks changed (see `ChangelogCodec.resultBlockSize`), consecutive repeats
    /// dropped: a batch's results rows fill one or two blocks.
    private(set) var blocks: [Int64] = []
    /// Results rows from this `seq` on travel in blocks; rows below it (written before the
    /// store published blocks) as rows of their own. A multiple of the block size.
    var resultBlocksFrom: Int64 = 0
    private let resultsId = ChangelogTable.results.id
    /// The captured tables' names as C strings, for `strcmp` against the name SQLite passes
    /// (its pointer is not stable: a schema reload frees and reallocates table objects, so
    /// an address cached for one table can later name another).
    private let names: [(name: [CChar], id: UInt8)] = ChangelogTable.all.map { (Array($0.name.utf8CString), $0.id) }
    private let headsId = ChangelogTable.heads.id
    private let versionsId = ChangelogTable.versions.id
    /// Per captured table id: the table's column positions of its key columns, and of
    /// `oldest_version` for the heads table.
    private let keyColumns: [UInt8: [Int32]]
    private let oldestColumn: Int32
    private let headsCidColumn: Int32

    var isEmpty: Bool { rows.isEmpty && keys.isEmpty && pruned.isEmpty && blocks.isEmpty }

    /// `positions`: for each captured table, its columns' positions in the real table.
    init(positions: [UInt8: [String: Int32]]) {
        var keyColumns: [UInt8: [Int32]] = [:]
        for t in ChangelogTable.all { keyColumns[t.id] = t.key.map { positions[t.id]![$0]! } }
        self.keyColumns = keyColumns
        self.oldestColumn = positions[ChangelogTable.heads.id]!["oldest_version"]!
        self.headsCidColumn = positions[ChangelogTable.heads.id]!["cid"]!
    }

    func reset() {
        rows.removeAll(keepingCapacity: true)
        keys.removeAll(keepingCapacity: true)
        pruned.removeAll(keepingCapacity: true)
        blocks.removeAll(keepingCapacity: true)
    }

    /// Notes the block of results row `seq` if blocks carry it.
    private func noteBlock(_ seq: Int64) -> Bool {
        guard seq >= resultBlocksFrom else { return false }
        let block = seq / ChangelogCodec.resultBlockSize
        if blocks.last != block { blocks.append(block) }
        return true
    }

    /// Installs the hook on `db`; the capture must outlive the connection's use of it.
    func install(on db: OpaquePointer) {
        sqlite3_preupdate_hook(
            db,
            { ctx, db, op, _, name, key1, key2 in
                guard let ctx, let db, let name else { return }
                Unmanaged<ChangeCapture>.fromOpaque(ctx).takeUnretainedValue().note(db, op, name, key1, key2)
            },
            Unmanaged.passUnretained(self).toOpaque()
        )
    }

    static func uninstall(from db: OpaquePointer) {
        sqlite3_preupdate_hook(db, nil, nil)
    }

    /// The last name pointer seen and its entry in `names`: most changes of a batch hit a
    /// few tables in turn, so one `strcmp` confirms the guess (the pointer alone is no proof).
    private var lastName: UnsafePointer<CChar>?
    private var lastIndex = 0

    /// The captured table's id (a small value: the hook runs for every row change).
    private func tableId(_ name: UnsafePointer<CChar>) -> UInt8? {
        if name == lastName, names[lastIndex].name.withUnsafeBufferPointer({ strcmp($0.baseAddress!, name) == 0 }) {
            return names[lastIndex].id
        }
        for i in names.indices where names[i].name.withUnsafeBufferPointer({ strcmp($0.baseAddress!, name) == 0 }) {
            lastName = name
            lastIndex = i
            return names[i].id
        }
        return nil
    }

    private func note(_ db: OpaquePointer, _ op: Int32, _ name: UnsafePointer<CChar>, _ key1: Int64, _ key2: Int64) {
        guard !suspended, let id = tableId(name) else { return }
        // Results rows (their rowid is their seq, never changed) travel in blocks.
        if id == resultsId, noteBlock(op == SQLITE_INSERT ? key2 : key1) { return }
        if id == headsId {
            // Heads travel as their versions (a restore derives them: see
            // `PartitionStore.deriveHeads`); a deleted head is still sent as a tombstone,
            // for head records of stores from before.
            if op == SQLITE_UPDATE {
                // Versions below a head's new oldest_version are pruned: tombstones.
                let old = value(db, oldestColumn, old: true).int ?? 0
                let new = value(db, oldestColumn, old: false).int ?? 0
                if new > old, let cid = value(db, headsCidColumn, old: true).int {
                    for v in old..<new { pruned.append((cid, v)) }
                }
            } else if op == SQLITE_DELETE {
                keys.append(oldKey(db, id))
            }
            return
        }
        if id == versionsId, op == SQLITE_DELETE {
            // A deleted version (its instance deleted) is published as its slot's value,
            // like a pruned one (versions travel keyed by slot: `ChangelogCodec.slotKey`).
            let k = keyColumns[id]!
            if let cid = value(db, k[0], old: true).int, let version = value(db, k[1], old: true).int {
                pruned.append((cid, version))
            }
            return
        }
        switch op {
        case SQLITE_INSERT:
            rows.append((id, key2))
        case SQLITE_UPDATE:
            rows.append((id, key2))
            if key1 != key2 { keys.append(oldKey(db, id)) }
        case SQLITE_DELETE:
            keys.append(oldKey(db, id))
        default:
            break
        }
    }

    private func oldKey(_ db: OpaquePointer, _ id: UInt8) -> [UInt8] {
        ChangelogCodec.key(ChangelogTable.byId(id)!, keyColumns[id]!.map { value(db, $0, old: true) })
    }

    private func value(_ db: OpaquePointer, _ column: Int32, old: Bool) -> SQLValue {
        var v: OpaquePointer?
        let rc = old ? sqlite3_preupdate_old(db, column, &v) : sqlite3_preupdate_new(db, column, &v)
        guard rc == SQLITE_OK, let v else { return .null }
        switch sqlite3_value_type(v) {
        case SQLITE_INTEGER: return .int(sqlite3_value_int64(v))
        case SQLITE_NULL: return .null
        case SQLITE_TEXT:
            let n = Int(sqlite3_value_bytes(v))
            guard n > 0, let p = sqlite3_value_text(v) else { return .utf8([]) }
            return .utf8(Array(UnsafeBufferPointer(start: p, count: n)))
        default:
            let n = Int(sqlite3_value_bytes(v))
            guard n > 0, let p = sqlite3_value_blob(v) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: p, count: n)))
        }
    }

    /// The noted changes as one blob for `changelog_dirty`: entries of `1, table, rowid`,
    /// `2, length, key`, `3, cid, version` and `4, results block` (numbers as varints).
    /// `PartitionStore.settleVersionSlots` writes entries of its own: `5, old slot count`.
    func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(rows.count * 6 + pruned.count * 8 + blocks.count * 4 + keys.reduce(0) { $0 + $1.count + 2 })
        for (t, rowid) in rows {
            out.append(1)
            out.append(t)
            ChangelogCodec.writeVarint(UInt64(bitPattern: rowid), to: &out)
        }
        for k in keys {
            out.append(2)
            ChangelogCodec.writeVarint(UInt64(k.count), to: &out)
            out.append(contentsOf: k)
        }
        for (cid, version) in pruned {
            out.append(3)
            ChangelogCodec.writeVarint(UInt64(bitPattern: cid), to: &out)
            ChangelogCodec.writeVarint(UInt64(bitPattern: version), to: &out)
        }
        for b in blocks {
            out.append(4)
            ChangelogCodec.writeVarint(UInt64(bitPattern: b), to: &out)
        }
        return out
    }
}

/// The rows a set of batches changed (decoded from `changelog_dirty`): rows and pruned
/// versions in the order noted, read sorted and each once; keys and blocks as sets.
struct DirtySet {
    /// Rows by rowid, in the order noted, repeats included: `sortedRows` orders them and
    /// drops the repeats (a unit notes a few per write; hashing each cost more than one
    /// sort per unit).
    var rows: [DirtyRow] = []
    var keys: Set<[UInt8]> = []
    /// Pruned versions: (cid, version) as a `DirtyRow` of the versions table; repeats
    /// included, as `rows`.
    var pruned: [DirtyRow] = []
    /// Results blocks.
    var blocks: Set<Int64> = []
    /// Moves of every version to the current slot count, by the old count (0: number
    /// keys): see `PartitionStore.settleVersionSlots`.
    var movedFrom: Set<Int64> = []

    struct DirtyRow: Hashable, Comparable {
        var table: UInt8
        var rowid: Int64
        /// For a pruned version: its context (`rowid` is then the version).
        var cid: Int64 = 0
        static func < (a: Self, b: Self) -> Bool { (a.table, a.cid, a.rowid) < (b.table, b.cid, b.rowid) }
    }

    var isEmpty: Bool { rows.isEmpty && keys.isEmpty && pruned.isEmpty && blocks.isEmpty && movedFrom.isEmpty }

    /// `rows` in order, each once.
    var sortedRows: [DirtyRow] { Self.sortedUnique(rows) }
    /// `pruned` in order, each once.
    var sortedPruned: [DirtyRow] { Self.sortedUnique(pruned) }

    static func sortedUnique<T: Comparable>(_ items: [T]) -> [T] {
        var out = items.sorted()
        guard out.count > 1 else { return out }
        var n = 1
        for i in 1..<out.count where out[i] != out[n - 1] {
            out[n] = out[i]
            n += 1
        }
        out.removeLast(out.count - n)
        return out
    }

    mutating func add(encoded b: [UInt8]) throws {
        var i = 0
        while i < b.count {
            let kind = b[i]
            i += 1
            if kind == 1, i < b.count {
                let t = b[i]
                i += 1
                rows.append(DirtyRow(table: t, rowid: Int64(bitPattern: try ChangelogCodec.readVarint(b, &i))))
            } else if kind == 2 {
                let n = Int(try ChangelogCodec.readVarint(b, &i))
                guard n >= 0, i + n <= b.count else { throw StoreError("corrupt_store", "changelog_dirty entry is malformed") }
                keys.insert(Array(b[i..<(i + n)]))
                i += n
            } else if kind == 3 {
                let cid = Int64(bitPattern: try ChangelogCodec.readVarint(b, &i))
                let version = Int64(bitPattern: try ChangelogCodec.readVarint(b, &i))
                pruned.append(DirtyRow(table: ChangelogTable.versions.id, rowid: version, cid: cid))
            } else if kind == 4 {
                blocks.insert(Int64(bitPattern: try ChangelogCodec.readVarint(b, &i)))
            } else if kind == 5 {
                movedFrom.insert(Int64(bitPattern: try ChangelogCodec.readVarint(b, &i)))
            } else {
                throw StoreError("corrupt_store", "changelog_dirty entry is malformed")
            }
        }
    }
}
