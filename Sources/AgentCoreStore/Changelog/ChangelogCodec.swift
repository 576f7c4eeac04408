/// The byte format of changelog row records (documented in `docs/changelog.md`).
///
/// - Row key: `0x72` (`r`), the table id, then the primary key's values.
/// - Row value: `0x01` (format), then every column's value in `ChangelogTable.columns`
///   order; a deleted row is a tombstone (no value).
/// - A value: tag `0` null; `1` integer (zigzag varint); `2` text and `3` blob (varint
///   length, bytes).
/// - Results block key: `0x72`, `resultBlockTable`, then the block number (an integer
///   value): the results rows with `seq` in `[block × resultBlockSize, (block + 1) ×
///   resultBlockSize)`. Value: `0x02`, the row count (varint), then each row's values in
///   `results` column order; a tombstone when the block holds no row.
/// - Version slot key: `0x72`, `versionSlotTable`, then the context's `cid`, the slot count
///   S and the slot (integer values): the retained version of the context whose number is
///   the slot modulo S. Value: a row value of `agent_context_versions`; a tombstone when no
///   retained version sits in the slot.
enum ChangelogCodec {
    static let rowKind: UInt8 = 0x72
    static let rowFormat: UInt8 = 0x01
    static let blockFormat: UInt8 = 0x02
    /// The pseudo-table id of results blocks (not a `ChangelogTable`: its records hold
    /// up to `resultBlockSize` results rows each). Part of the format, like table ids.
    static let resultBlockTable: UInt8 = 10
    /// Results rows per block. Part of the format: a different size needs a new table id.
    static let resultBlockSize: Int64 = 32
    /// The pseudo-table id of context versions keyed by slot (`Key.versionSlot`). Part of
    /// the format.
    static let versionSlotTable: UInt8 = 11

    /// What a changelog row key names.
    enum Key: Equatable {
        /// A row of a captured table, by its primary key's values.
        case row(ChangelogTable, [SQLValue])
        /// A block of results rows (see `resultBlockSize`).
        case resultBlock(Int64)
        /// The retained version of context `cid` whose number modulo `slots` is `slot`.
        case versionSlot(cid: Int64, slots: Int64, slot: Int64)

        static func == (a: Key, b: Key) -> Bool {
            switch (a, b) {
            case (.row(let t, let v), .row(let u, let w)): t.id == u.id && v == w
            case (.resultBlock(let x), .resultBlock(let y)): x == y
            case (.versionSlot(let c, let n, let s), .versionSlot(let d, let m, let t)): c == d && n == m && s == t
            default: false
            }
        }
    }

    static func blockKey(_ block: Int64) -> [UInt8] {
        var out: [UInt8] = [rowKind, resultBlockTable]
        write(.int(block), to: &out)
        return out
    }

    static func slotKey(cid: Int64, slots: Int64, slot: Int64) -> [UInt8] {
        var out: [UInt8] = [rowKind, versionSlotTable]
        write(.int(cid), to: &out)
        write(.int(slots), to: &out)
        write(.int(slot), to: &out)
        return out
    }

    /// The rows of a results block's value, each with `ChangelogTable.results`' columns.
    static func decodeBlock(_ bytes: [UInt8]) throws -> [[SQLValue]] {
        guard bytes.first == blockFormat else {
            throw StoreError("corrupt_changelog", "changelog results block has unknown format \(bytes.first ?? 0)")
        }
        var i = 1
        let n = Int(try readVarint(bytes, &i))
        let columns = ChangelogTable.results.columns.count
        var rows: [[SQLValue]] = []
        rows.reserveCapacity(min(n, Int(resultBlockSize)))
        for _ in 0..<n {
            var row: [SQLValue] = []
            row.reserveCapacity(columns)
            for _ in 0..<columns { row.append(try read(bytes, &i)) }
            rows.append(row)
        }
        guard i == bytes.count else { throw StoreError("corrupt_changelog", "changelog results block has trailing bytes") }
        return rows
    }

    static func key(_ table: ChangelogTable, _ values: [SQLValue]) -> [UInt8] {
        var out: [UInt8] = [rowKind, table.id]
        for v in values { write(v, to: &out) }
        return out
    }

    static func image(_ values: [SQLValue]) -> [UInt8] {
        var out: [UInt8] = [rowFormat]
        out.reserveCapacity(64 + values.reduce(0) { $0 + ($1.bytes?.count ?? 0) })
        for v in values { write(v, to: &out) }
        return out
    }

    /// What a row key names, or nil if `bytes` is not one.
    static func decodeKey(_ bytes: [UInt8]) throws -> Key? {
        guard bytes.count >= 2, bytes[0] == rowKind else { return nil }
        if bytes[1] == resultBlockTable {
            var i = 2
            guard case .int(let block) = try read(bytes, &i), i == bytes.count else {
                throw StoreError("corrupt_changelog", "changelog results block key is malformed")
            }
            return .resultBlock(block)
        }
        if bytes[1] == versionSlotTable {
            var i = 2
            guard case .int(let cid) = try read(bytes, &i), case .int(let slots) = try read(bytes, &i),
                case .int(let slot) = try read(bytes, &i), i == bytes.count, slots > 0, slot >= 0, slot < slots
            else {
                throw StoreError("corrupt_changelog", "changelog version slot key is malformed")
            }
            return .versionSlot(cid: cid, slots: slots, slot: slot)
        }
        guard let table = ChangelogTable.byId(bytes[1]) else {
            throw StoreError("corrupt_changelog", "changelog key names unknown table \(bytes[1])")
        }
        var i = 2
        var values: [SQLValue] = []
        while i < bytes.count { values.append(try read(bytes, &i)) }
        guard values.count == table.key.count else {
            throw StoreError("corrupt_changelog", "changelog key of \(table.name) has \(values.count) values")
        }
        return .row(table, values)
    }

    static func decodeImage(_ bytes: [UInt8], table: ChangelogTable) throws -> [SQLValue] {
        guard bytes.first == rowFormat else {
            throw StoreError("corrupt_changelog", "changelog row of \(table.name) has unknown format \(bytes.first ?? 0)")
        }
        var i = 1
        var values: [SQLValue] = []
        values.reserveCapacity(table.columns.count)
        while i < bytes.count { values.append(try read(bytes, &i)) }
        guard values.count == table.columns.count else {
            throw StoreError("corrupt_changelog", "changelog row of \(table.name) has \(values.count) columns")
        }
        return values
    }

    static func write(_ v: SQLValue, to out: inout [UInt8]) {
        switch v {
        case .null: out.append(0)
        case .int(let i):
            out.append(1)
            writeVarint(UInt64(bitPattern: (i << 1) ^ (i >> 63)), to: &out)
        case .text(let s):
            out.append(2)
            var s = s
            s.withUTF8 { u in
                writeVarint(UInt64(u.count), to: &out)
                out.append(contentsOf: u)
            }
        case .utf8(let b):
            out.append(2)
            writeVarint(UInt64(b.count), to: &out)
            out.append(contentsOf: b)
        case .blob(let b):
            out.append(3)
            writeVarint(UInt64(b.count), to: &out)
            out.append(contentsOf: b)
        }
    }

    static func read(_ bytes: [UInt8], _ i: inout Int) throws -> SQLValue {
        guard i < bytes.count else { throw StoreError("corrupt_changelog", "changelog value ends early") }
        let tag = bytes[i]
        i += 1
        switch tag {
        case 0: return .null
        case 1:
            let z = try readVarint(bytes, &i)
            return .int(Int64(bitPattern: z >> 1) ^ -Int64(bitPattern: z & 1))
        case 2, 3:
            let n = Int(try readVarint(bytes, &i))
            guard n >= 0, i + n <= bytes.count else { throw StoreError("corrupt_changelog", "changelog value ends early") }
            let b = Array(bytes[i..<(i + n)])
            i += n
            return tag == 2 ? .utf8(b) : .blob(b)
        default: throw StoreError("corrupt_changelog", "changelog value has unknown tag \(tag)")
        }
    }

    static func writeVarint(_ v: UInt64, to out: inout [UInt8]) {
        var v = v
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    static func readVarint(_ bytes: [UInt8], _ i: inout Int) throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while i < bytes.count {
            let b = bytes[i]
            i += 1
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
            if shift > 63 { break }
        }
        throw StoreError("corrupt_changelog", "changelog varint is malformed")
    }
}
