import CSQLite
import Foundation
import Synchronization

/// Copies a store's WAL back into its database file on a connection of its own (PASSIVE
/// checkpoints), run by a pool of two threads shared by every store of the process, so the
/// applying thread no longer waits for checkpoint writes and `fsync`s inside `COMMIT`.
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
    /// Under `Pool.condition`: passes asked for and done, whether a pool thread is running
    /// one or it waits in the queue, and whether the store is closing.
    private var requested = 0
    private var completed = 0
    private var queued = false
    private var busy = false
    private var stopping = false
    /// The last pass's SQLite result code.
    let lastResult = Atomic<Int32>(SQLITE_OK)
    /// Passes done (for tests).
    var passes: Int {
        Pool.condition.lock()
        defer { Pool.condition.unlock() }
        return completed
    }

    /// The threads that run every store's passes, in the order asked for: a few for the
    /// process instead of one per store (a worker owning many partitions had as many idle
    /// threads, each with a malloc arena of its own). Two, so that one store's long pass
    /// does not hold up every other store's.
    private enum Pool {
        static let threads = 2
        static let condition = NSCondition()
        /// Under `condition`: checkpointers with a pass to run, oldest request first.
        nonisolated(unsafe) static var queue: [Checkpointer] = []
        nonisolated(unsafe) static var started = false

        /// Starts the threads on first use (under `condition`).
        static func start() {
            guard !started else { return }
            started = true
            for i in 0..<threads {
                let thread = Thread { run() }
                thread.name = "agentcore-checkpoint-\(i)"
                thread.start()
            }
        }

        static func run() {
            while true {
                condition.lock()
                while queue.isEmpty { condition.wait() }
                let c = queue.removeFirst()
                c.queued = false
                c.busy = true
                let pass = c.requested
                condition.unlock()
                var log: Int32 = 0
                var copied: Int32 = 0
                let rc = sqlite3_wal_checkpoint_v2(c.connection, nil, SQLITE_CHECKPOINT_PASSIVE, &log, &copied)
                c.lastResult.store(rc, ordering: .relaxed)
                condition.lock()
                c.completed = pass
                c.busy = false
                // Asked for again while this pass ran: queued again, behind the others.
                if c.requested > c.completed && !c.stopping {
                    c.queued = true
                    queue.append(c)
                }
                condition.broadcast()
                condition.unlock()
            }
        }
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
    }

    /// Asks for a pass; returns its number, for `wait(for:)`.
    @discardableResult
    func request() -> Int {
        Pool.condition.lock()
        defer { Pool.condition.unlock() }
        requested += 1
        if !queued && !busy && !stopping {
            queued = true
            Pool.queue.append(self)
            Pool.start()
        }
        Pool.condition.broadcast()
        return requested
    }

    /// Waits until pass `pass` (and every one before it) is done.
    func wait(for pass: Int) {
        Pool.condition.lock()
        while completed < pass && !stopping { Pool.condition.wait() }
        Pool.condition.unlock()
    }

    /// Takes the store out of the queue, waits for a pass that is running, and closes the
    /// connection.
    func stop() {
        Pool.condition.lock()
        let already = stopping
        stopping = true
        if queued {
            Pool.queue.removeAll { $0 === self }
            queued = false
        }
        while busy { Pool.condition.wait() }
        Pool.condition.broadcast()
        Pool.condition.unlock()
        guard !already else { return }
        sqlite3_close_v2(connection)
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
