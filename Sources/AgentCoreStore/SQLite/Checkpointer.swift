import CSQLite
import Foundation
import Synchronization

/// Copies a store's WAL back into its database file on a thread and connection of its own
/// (PASSIVE checkpoints), so the applying thread no longer waits for checkpoint writes and
/// `fsync`s inside `COMMIT`.
///
/// A PASSIVE checkpoint beside a writer that never pauses never backfills the whole WAL, so
/// the WAL would never restart and would grow without end. The store therefore asks for a
/// pass between batches each time the WAL has grown by `StoreOptions.checkpointStepFrames`,
/// and, once it holds `StoreOptions.walLimitFrames`, waits between two batches for a pass
/// that copies everything: the next write transaction then starts the WAL over. (A reader
/// holding an old snapshot, such as a long `inspect`, still keeps the WAL from starting
/// over until it ends, as with SQLite's own checkpoints.)
///
/// Measured on this project's 2-core machine (disk, eight interleaved pairs): the store
/// +6% at 1k contexts and +18% at 100k; the applying thread had spent about 12% of a disk
/// run waiting in checkpoint `fsync`s.
final class Checkpointer: @unchecked Sendable {
    private let connection: OpaquePointer
    private let condition = NSCondition()
    /// Under `condition`: passes asked for, passes done, and whether to stop.
    private var requested = 0
    private var completed = 0
    private var stopping = false
    private let done = DispatchSemaphore(value: 0)
    /// The last pass's SQLite result code.
    let lastResult = Atomic<Int32>(SQLITE_OK)
    /// Passes done (for tests).
    var passes: Int {
        condition.lock()
        defer { condition.unlock() }
        return completed
    }

    init(path: String) throws(SQLiteError) {
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            throw SQLiteError(code: rc, message: message, sql: nil)
        }
        sqlite3_busy_timeout(db, 5_000)
        // It runs checkpoints only: no lookaside buffer (one per owned partition otherwise).
        _ = agentcore_sqlite3_lookaside_off(db)
        // A connection learns that the file is in WAL mode when it first reads it; until
        // then a checkpoint does nothing.
        let mode = sqlite3_exec(db, "PRAGMA journal_mode=WAL", nil, nil, nil)
        guard mode == SQLITE_OK else {
            let message = String(cString: sqlite3_errmsg(db))
            sqlite3_close(db)
            throw SQLiteError(code: mode, message: message, sql: "PRAGMA journal_mode=WAL")
        }
        connection = db
        let thread = Thread { [self] in run() }
        thread.name = "agentcore-checkpoint"
        thread.start()
    }

    /// Asks for a pass; returns its number, for `wait(for:)`.
    @discardableResult
    func request() -> Int {
        condition.lock()
        defer { condition.unlock() }
        requested += 1
        condition.signal()
        return requested
    }

    /// Waits until pass `pass` (and every one before it) is done.
    func wait(for pass: Int) {
        condition.lock()
        while completed < pass && !stopping { condition.wait() }
        condition.unlock()
    }

    /// Ends the thread and closes the connection.
    func stop() {
        condition.lock()
        let already = stopping
        stopping = true
        condition.broadcast()
        condition.unlock()
        guard !already else { return }
        done.wait()
        sqlite3_close_v2(connection)
    }

    private func run() {
        while true {
            condition.lock()
            while requested == completed && !stopping { condition.wait() }
            if stopping {
                condition.unlock()
                break
            }
            let pass = requested
            condition.unlock()
            var log: Int32 = 0
            var copied: Int32 = 0
            let rc = sqlite3_wal_checkpoint_v2(connection, nil, SQLITE_CHECKPOINT_PASSIVE, &log, &copied)
            lastResult.store(rc, ordering: .relaxed)
            condition.lock()
            completed = pass
            condition.broadcast()
            condition.unlock()
        }
        done.signal()
    }
}

/// The WAL size after the last commit of a connection, kept by SQLite's WAL hook.
final class WALSize: @unchecked Sendable {
    let frames = Atomic<Int32>(0)

    /// Installs the hook on `db` (it replaces SQLite's automatic checkpoints).
    func install(on db: OpaquePointer) {
        sqlite3_wal_hook(
            db,
            { arg, _, _, frames in
                Unmanaged<WALSize>.fromOpaque(arg!).takeUnretainedValue().frames.store(frames, ordering: .relaxed)
                return SQLITE_OK
            },
            Unmanaged.passUnretained(self).toOpaque()
        )
    }
}
