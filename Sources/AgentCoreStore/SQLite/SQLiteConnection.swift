import CSQLite

/// A thin wrapper of one sqlite3 connection with a prepared-statement cache. Not thread
/// safe: a `PartitionStore` owns it and is used by one thread at a time.
final class SQLiteConnection {
    private(set) var handle: OpaquePointer?
    private var cache: [String: Statement] = [:]
    /// The statements named by `HotStatement`s, by slot.
    private var hot: [Statement?] = []
    let path: String

    init(path: String, readOnly: Bool = false) throws(SQLiteError) {
        self.path = path
        var db: OpaquePointer?
        let flags = readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
        let rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            throw SQLiteError(code: rc, message: message, sql: nil)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, 5_000)
    }

    deinit { close() }

    func close() {
        for s in cache.values { s.finalize() }
        cache.removeAll()
        hot.removeAll()
        if let h = handle { sqlite3_close_v2(h) }
        handle = nil
    }

    func error(_ rc: Int32, sql: String?) -> SQLiteError {
        SQLiteError(code: rc, message: handle.map { String(cString: sqlite3_errmsg($0)) } ?? "closed", sql: sql)
    }

    func execute(_ sql: String) throws(SQLiteError) {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc, sql: sql) }
    }

    /// A cached prepared statement, reset and with its bindings cleared.
    func statement(_ sql: String) throws(SQLiteError) -> Statement {
        if let s = cache[sql] {
            s.reset()
            return s
        }
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc, sql: sql) }
        let s = Statement(stmt: stmt, connection: self, sql: sql)
        cache[sql] = s
        return s
    }

    /// A cached prepared statement of the per-record path, found by its slot (looking a
    /// statement up by its text hashes the whole text on every use).
    func statement(_ h: HotStatement) throws(SQLiteError) -> Statement {
        if h.slot < hot.count, let s = hot[h.slot] {
            s.reset()
            return s
        }
        let s = try statement(h.sql)
        if h.slot >= hot.count { hot += Array(repeating: nil, count: h.slot + 1 - hot.count) }
        hot[h.slot] = s
        return s
    }

    /// Runs `sql` with `args` to completion.
    func run(_ sql: String, _ args: [SQLValue] = []) throws(SQLiteError) {
        let s = try statement(sql)
        defer { s.reset() }
        try s.bind(args)
        while try s.step() {}
    }

    /// All rows of a query.
    func rows(_ sql: String, _ args: [SQLValue] = []) throws(SQLiteError) -> [[SQLValue]] {
        let s = try statement(sql)
        try s.bind(args)
        defer { s.reset() }
        var out: [[SQLValue]] = []
        while try s.step() { out.append(s.row()) }
        return out
    }

    var changes: Int { Int(sqlite3_changes(handle)) }

    /// A PASSIVE WAL checkpoint on this connection.
    func checkpoint() throws(SQLiteError) {
        let rc = sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
        guard rc == SQLITE_OK || rc == SQLITE_BUSY else { throw error(rc, sql: "wal_checkpoint(PASSIVE)") }
    }

    func userVersion() throws(SQLiteError) -> Int {
        Int(try rows("PRAGMA user_version").first?.first?.int ?? 0)
    }
}

/// A statement used once or more per record, named by a slot of its own (see
/// `SQLiteConnection.statement(_:)`). Slots are small numbers, each used by one statement.
struct HotStatement: Sendable {
    let slot: Int
    let sql: String
}
