import CSQLite

/// SQLITE_TRANSIENT: SQLite copies bound bytes before the call returns.
let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A column or parameter value.
enum SQLValue: Equatable {
    case null
    case int(Int64)
    case text(String)
    /// UTF-8 bytes stored as TEXT (no String round trip).
    case utf8([UInt8])
    case blob([UInt8])

    var int: Int64? { if case .int(let i) = self { return i } else { return nil } }
    var text: String? {
        switch self {
        case .text(let s): return s
        case .blob(let b), .utf8(let b): return String(decoding: b, as: UTF8.self)
        default: return nil
        }
    }
    var bytes: [UInt8]? {
        switch self {
        case .blob(let b), .utf8(let b): return b
        case .text(let s): return Array(s.utf8)
        default: return nil
        }
    }
}

/// One prepared statement; owned by its connection's cache.
final class Statement {
    private let stmt: OpaquePointer
    private unowned let connection: SQLiteConnection
    let sql: String

    init(stmt: OpaquePointer, connection: SQLiteConnection, sql: String) {
        self.stmt = stmt
        self.connection = connection
        self.sql = sql
    }

    func finalize() { sqlite3_finalize(stmt) }

    /// Ends the statement (releasing its read snapshot) and clears its bindings.
    func reset() {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
    }

    func bind(_ args: [SQLValue]) throws(SQLiteError) {
        for (i, a) in args.enumerated() { try bind(a, at: Int32(i + 1)) }
    }

    func bind(_ value: SQLValue, at index: Int32) throws(SQLiteError) {
        let rc: Int32
        switch value {
        case .null: rc = sqlite3_bind_null(stmt, index)
        case .int(let i): rc = sqlite3_bind_int64(stmt, index, i)
        case .text(let s): rc = sqlite3_bind_text(stmt, index, s, -1, sqliteTransient)
        case .utf8(let b):
            // An empty array may have no base address; bind the empty string then.
            if b.isEmpty {
                rc = sqlite3_bind_text(stmt, index, "", 0, sqliteTransient)
            } else {
                rc = b.withUnsafeBytes {
                    sqlite3_bind_text(stmt, index, $0.baseAddress!.assumingMemoryBound(to: CChar.self), Int32($0.count), sqliteTransient)
                }
            }
        case .blob(let b):
            rc = b.withUnsafeBytes { sqlite3_bind_blob(stmt, index, $0.baseAddress, Int32($0.count), sqliteTransient) }
        }
        guard rc == SQLITE_OK else { throw connection.error(rc, sql: sql) }
    }

    /// Advances; true when a row is available.
    func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(stmt)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw connection.error(rc, sql: sql)
    }

    func row() -> [SQLValue] {
        (0..<sqlite3_column_count(stmt)).map { column($0) }
    }

    func column(_ i: Int32) -> SQLValue {
        switch sqlite3_column_type(stmt, i) {
        case SQLITE_INTEGER: return .int(sqlite3_column_int64(stmt, i))
        case SQLITE_NULL: return .null
        case SQLITE_TEXT: return .text(String(cString: sqlite3_column_text(stmt, i)))
        default:
            let n = Int(sqlite3_column_bytes(stmt, i))
            guard n > 0, let p = sqlite3_column_blob(stmt, i) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: p, count: n)))
        }
    }

    /// Appends column `i` in the changelog's value encoding (`ChangelogCodec`), without
    /// building a `SQLValue`.
    func appendChangelogValue(_ i: Int32, to out: inout [UInt8]) {
        switch sqlite3_column_type(stmt, i) {
        case SQLITE_INTEGER: ChangelogCodec.write(.int(sqlite3_column_int64(stmt, i)), to: &out)
        case SQLITE_NULL: out.append(0)
        case let type:
            let p = type == SQLITE_TEXT ? UnsafeRawPointer(sqlite3_column_text(stmt, i)) : sqlite3_column_blob(stmt, i)
            let n = Int(sqlite3_column_bytes(stmt, i))
            out.append(type == SQLITE_TEXT ? 2 : 3)
            ChangelogCodec.writeVarint(UInt64(n), to: &out)
            if n > 0, let p { out.append(contentsOf: UnsafeRawBufferPointer(start: p, count: n)) }
        }
    }

    func int(_ i: Int32) -> Int64 { sqlite3_column_int64(stmt, i) }

    func text(_ i: Int32) -> String? {
        guard let p = sqlite3_column_text(stmt, i) else { return nil }
        return String(cString: p)
    }

    func bytes(_ i: Int32) -> [UInt8] {
        let n = Int(sqlite3_column_bytes(stmt, i))
        guard n > 0, let p = sqlite3_column_blob(stmt, i) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }

    func isNull(_ i: Int32) -> Bool { sqlite3_column_type(stmt, i) == SQLITE_NULL }
}
