import AgentCoreModel
import CSQLite
import Foundation
import Synchronization

/// One partition's SQLite store: the state of every workspace that hashes to the partition,
/// the applied input offsets and the results of every applied record, all changed in one
/// transaction per batch by `apply(_:)`.
///
/// `results` is append-only, one row per applied record (sequence number, the command's
/// workspace and id, the outputs it produced). It is both the outbox (rows after
/// `published_through` are still to be published) and the memory of command ids for
/// idempotent re-delivery (an in-memory index of the last `idempotencyRetention` rows,
/// rebuilt from the table on open, so no random-access index is written per command).
///
/// Not thread safe: one owner (a worker's partition lane) uses it at a time. It holds a
/// SQLite connection, which must not be used concurrently.
public final class PartitionStore {
    let db: SQLiteConnection
    public let partition: Int32
    public let options: StoreOptions
    public var path: String { db.path }
    let decoder: CommandDecoder
    /// Numbers the stores this process opened: two values differ for two opened stores,
    /// even at the same path (an object's address may be reused).
    public let instance: UInt64 = PartitionStore.opened.add(1, ordering: .relaxed).newValue
    private static let opened = Atomic<UInt64>(0)

    /// Workspace/project pairs known to exist (cache of rows; cleared when a batch fails).
    var knownProjects = KnownProjects()
    /// Highest record timestamp applied (stream time), or nil before the first record.
    public internal(set) var streamTime: Int64?
    /// Last applied offset per input topic.
    public internal(set) var appliedOffsets: [String: Int64] = [:]
    /// Set by the first `apply` after opening when the store was last applied with other
    /// settings (`StoreOptions.applySettings`): the records before and after answer by
    /// different rules. Workers that share partitions must run the same settings; the
    /// worker logs this as a warning. The new settings are recorded in the same transaction.
    var settingsChange: (from: String, to: String)?
    var settingsChecked = false

    /// The settings change noted by the last `apply` (see `settingsChange`), once.
    public func takeSettingsChange() -> (from: String, to: String)? {
        defer { settingsChange = nil }
        return settingsChange
    }

    /// Test seam: the last batch's renderer, gone once its thread has ended.
    weak var lastRenderer: ResultRenderer?
    /// Test seam: called before each record is applied; throwing aborts the batch.
    var beforeRecord: ((InputRecord) throws -> Void)?
    /// Sequence number of the next `results` row.
    var nextSeq: Int64 = 1
    /// Results up to this sequence number have been published.
    public internal(set) var publishedThrough: Int64 = 0
    /// `published_through` as the file has it: behind `publishedThrough` while an
    /// acknowledgement waits to be written with the next transaction (`acknowledge(persist:)`).
    var publishedThroughOnDisk: Int64 = 0
    /// hkey (workspace + command id) → results seq, for rows within the retention.
    lazy var recentCommands = CommandIndex(window: max(1, options.idempotencyRetention))
    var commandIndexLoaded = false
    /// Version rows below this rowid have been swept (see `sweepPrunedVersions`).
    var sweptThrough: Int64 = 0
    /// Version rows pruned (below their context's `oldest_version`) and not deleted yet.
    /// While it is zero the sweep has nothing to find and skips its scan (with many
    /// contexts of few versions each, the scan was about 6% of apply time and found nothing).
    var prunedPending: Int64 = 0
    var prunedPendingRecorded = false
    /// Results rows of the batch being applied, inserted at its end.
    var pending = PendingResults(firstSeq: Int64.max)
    /// The rows the batch being applied inserted, ready to publish; they join
    /// `unpublished` once its transaction has committed.
    var stagedOutbox: [OutboxRow] = []
    /// Unpublished results rows kept in memory since they were applied (see `unpublishedRows`).
    var unpublished = UnpublishedRows()
    /// Compress results rows on the applying thread and on the batch's helper thread.
    let compressor = ResultCompressor()
    let helperCompressor = ResultCompressor()
    /// Context heads by workspace/project/instance/name (see `contextHead`).
    var headCache: [HeadKey: ContextHead] = [:]
    /// Checkpoints the WAL beside the applying thread, from the first `apply` on (readers
    /// such as `inspect` leave checkpoints to SQLite as before).
    var checkpointer: Checkpointer?
    let walSize = WALSize()
    var framesAtLastPass: Int32 = 0
    /// WAL size seen by the previous `checkpointBetweenBatches`: what a batch adds.
    var framesBefore: Int32 = 0
    /// Notes the rows each batch changes, for the changelog (nil when `options.changelog`
    /// is off).
    var capture: ChangeCapture? {
        didSet { capture?.resultBlocksFrom = resultBlocksFrom ?? Int64.max }
    }
    /// Results rows from this `seq` on travel in the changelog in blocks
    /// (`ChangelogCodec.resultBlockSize`); nil until the first batch or restore settles it
    /// (`store_meta` key `changelog_result_blocks_from`, see `settleResultBlocksFrom`).
    var resultBlocksFrom: Int64? {
        didSet { capture?.resultBlocksFrom = resultBlocksFrom ?? Int64.max }
    }
    /// Context versions travel in the changelog keyed by slot, this many per context
    /// (`store_meta` key `changelog_version_slots`, see `settleVersionSlots`); nil until the
    /// first publishing round or a restore from a marker that carries it.
    var versionSlots: Int64?

    /// The store's WAL was there, not empty, when it was opened: the last user did not
    /// close it (a crash, a kill, a lost node). Such a store is checked before a worker uses it.
    public let openedAfterUncleanStop: Bool
    /// Set when the store must be checked (`quickCheck`) before it is trusted: SQLite
    /// reported it damaged while in use, or the worker opens it for the first time (a file
    /// can be damaged at rest). The next restore checks it.
    public var suspectDamage = false

    /// The connection's settings. Switching a new file to WAL needs it alone, and SQLite
    /// answers BUSY at once (no busy handler) when another connection opens it at the same
    /// moment (a worker creating a store while a reader opens it): tried again for up to 5 s.
    static func configure(_ db: SQLiteConnection, _ options: StoreOptions) throws {
        var attempt = 0
        while true {
            do {
                try db.execute(
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=\(options.synchronous.rawValue); PRAGMA secure_delete=OFF;"
                        + " PRAGMA foreign_keys=ON; PRAGMA cache_size=-\(options.cacheSizeKiB); PRAGMA mmap_size=\(options.mmapSizeBytes); PRAGMA wal_autocheckpoint=8192;"
                )
                return
            } catch {
                attempt += 1
                guard error.code & 0xFF == 5, attempt < 250 else { throw error }  // SQLITE_BUSY
                usleep(20_000)
            }
        }
    }

    public init(path: String, partition: Int32, options: StoreOptions = StoreOptions()) throws {
        let walBytes = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? NSNumber)?.int64Value ?? 0
        openedAfterUncleanStop = walBytes > 0
        self.db = try SQLiteConnection(path: path)
        self.partition = partition
        self.options = options
        self.decoder = CommandDecoder(limits: options.limits)
        try Self.configure(db, options)
        try Migrations.migrate(db)
        if let p = try db.rows("SELECT value FROM store_meta WHERE key='partition'").first?.first?.int, p != Int64(partition) {
            throw StoreError("wrong_store", "\(path) holds partition \(p), not \(partition)")
        }
        try db.run("INSERT OR IGNORE INTO store_meta(key, value) VALUES('partition', ?)", [.int(Int64(partition))])
        try loadPositions()
        if options.changelog { try installCapture() }
    }

    func loadPositions() throws {
        // A full reload (opening, or a restore that wrote the positions): the file wins over
        // an acknowledgement kept in memory too, as a restore may number results anew (at
        // worst those rows are published again).
        publishedThrough = publishedThroughOnDisk
        try refreshPositions()
        knownProjects.removeAll()
        positionsVersion = nil
    }

    /// SQLite's `data_version` when `refreshPositions` last read the positions inside a
    /// batch's transaction: it moves only when another connection commits to the file
    /// (this connection's own commits leave it), so an unchanged value means the positions
    /// in memory are the file's. Nil: read them at the next batch.
    var positionsVersion: Int64? = nil

    /// `refreshPositions`, unless no other connection committed since the last one (at
    /// 2,000 commands/s the re-read was about 5% of the worker's CPU).
    func refreshPositionsIfChanged() throws {
        let version = try db.rows("PRAGMA data_version").first?.first?.int
        if let version, version == positionsVersion { return }
        try refreshPositions()
        positionsVersion = version
    }

    func refreshPositions() throws {
        // The file may have changed under this connection (another writer, a restore):
        // the rows in memory are read from it again.
        unpublished.removeAll()
        appliedOffsets = [:]
        for row in try db.rows("SELECT topic, offset FROM applied_offsets") {
            appliedOffsets[row[0].text!] = row[1].int!
        }
        // `store_meta` is a handful of rows: one read for all the positions kept there.
        var meta: [String: SQLValue] = [:]
        for row in try db.rows("SELECT key, value FROM store_meta") { if let key = row[0].text { meta[key] = row[1] } }
        streamTime = meta["stream_time"]?.int
        let next = try db.rows("SELECT coalesce(max(seq), 0) + 1 FROM results").first?.first?.int ?? 1
        // An acknowledgement not written yet (`acknowledge(persist: false)`) outlives this
        // re-read (the first batch after opening, a failed batch, another connection's
        // commit): those rows were published. Another writer cannot have numbered them
        // anew: rows up to the last marker's next sequence number are the same in every
        // history; rows past it mean changes not in the changelog yet, and a restore by
        // another owner then rebuilds the store (`RestoreNeedsRebuild`); a full reload
        // (`loadPositions`) drops the value anyway.
        let kept = publishedThrough > publishedThroughOnDisk ? min(publishedThrough, next - 1) : 0
        publishedThroughOnDisk = meta["published_through"]?.int ?? 0
        publishedThrough = max(publishedThroughOnDisk, kept)
        sweptThrough = meta["versions_swept"]?.int ?? 0
        resultBlocksFrom = meta["changelog_result_blocks_from"]?.int
        versionSlots = meta["changelog_version_slots"]?.int
        // Kept by `apply`; a store written before the count was kept has none yet (see
        // `countPrunedPending`).
        if let stored = meta["versions_pruned_pending"]?.int {
            prunedPending = stored
            prunedPendingRecorded = true
        } else {
            prunedPending = -1
            prunedPendingRecorded = false
        }
        // Another process appended (a zombie owner, or the store was just opened): reload.
        if next != nextSeq || !commandIndexLoaded {
            nextSeq = next
            headCache.removeAll()
            try loadRecentCommands()
            commandIndexLoaded = true
        }
    }

    /// Rebuilds the command index from the rows within the retention.
    func loadRecentCommands() throws {
        recentCommands.removeAll()
        let s = try db.statement("SELECT hkey, seq FROM results WHERE command_id IS NOT NULL AND seq >= ? ORDER BY seq")
        defer { s.reset() }
        try s.bind(.int(nextSeq - Int64(options.idempotencyRetention)), at: 1)
        while try s.step() { try recentCommands.remember(hkey: s.int(0), seq: s.int(1)) }
    }

    /// For a store written before `versions_pruned_pending` was kept: counts the pruned rows
    /// once (a pass over the version rows), on the first batch applied; the batch records it.
    /// Readers (`inspect`) never pay for it.
    func countPrunedPending() throws {
        guard prunedPending < 0 else { return }
        prunedPending = try countPrunedRows()
    }

    /// Version rows below their context's `oldest_version`: all of them, or, given
    /// (workspace, project, instance id), those of that instance's contexts.
    func countPrunedRows(ofInstance instance: [SQLValue] = []) throws -> Int64 {
        let scope =
            instance.isEmpty
            ? "" : " AND v.cid IN (SELECT cid FROM agent_contexts WHERE workspace_id=? AND project_id=? AND instance_id=?)"
        return try db.rows(
            "SELECT count(*) FROM agent_context_versions v JOIN agent_context_heads h ON h.cid = v.cid WHERE v.version < h.oldest_version"
                + scope,
            instance
        ).first?.first?.int ?? 0
    }

    /// Sets `key` in `store_meta` (in the current transaction).
    func setMeta(_ key: String, _ value: SQLValue) throws {
        try db.run(
            "INSERT INTO store_meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [.text(key), value]
        )
    }

    /// Closes the SQLite connection. The store is unusable afterwards.
    public func close() {
        checkpointer?.stop()
        checkpointer = nil
        if let h = db.handle, capture != nil { ChangeCapture.uninstall(from: h) }
        db.close()
    }

    deinit { checkpointer?.stop() }

    /// Starts the checkpointer on first use; between batches, asks it for a pass, or waits
    /// for one that copies the whole WAL so that the next batch starts it over (see
    /// `Checkpointer`).
    func checkpointBetweenBatches() throws {
        if checkpointer == nil, let handle = db.handle {
            // Without its own connection, SQLite's checkpoints after commits stay on.
            guard let c = try? Checkpointer(path: path) else { return }
            checkpointer = c
            walSize.install(on: handle)  // replaces SQLite's own checkpoints after commits
        }
        guard let c = checkpointer else { return }
        let frames = walSize.frames.load(ordering: .relaxed)
        let batchFrames = frames >= framesBefore ? frames - framesBefore : frames
        framesBefore = frames
        if frames < framesAtLastPass { framesAtLastPass = 0 }  // the WAL started over
        if frames >= options.walLimitFrames {
            c.wait(for: c.request())
            framesAtLastPass = frames
            let rc = c.lastResult.load(ordering: .relaxed)
            if rc != SQLITE_OK && rc != SQLITE_BUSY {
                // The checkpoint connection failed (I/O error, say): checkpoint here, so
                // that the error surfaces as this batch's failure instead of a growing WAL.
                try db.checkpoint()
            }
        } else if frames >= framesAtLastPass + options.checkpointStepFrames
            || (frames > framesAtLastPass && frames + 2 * batchFrames >= options.walLimitFrames)
        {
            // Within two batches of the limit, a pass after every batch: the pass the next
            // batch waits for at the limit then copies one or two batches' pages, not a step's.
            c.request()
            framesAtLastPass = frames
        }
    }

    /// The offset to resume consuming `topic` at: the last applied offset + 1, or nil when
    /// nothing of that topic was ever applied (start from the beginning).
    public func resumeOffset(topic: String) -> Int64? {
        appliedOffsets[topic].map { $0 + 1 }
    }

    /// Size of the store's files on disk (main file and WAL), in bytes.
    public func sizeOnDisk() -> Int64 {
        [path, path + "-wal"].reduce(0) { total, file in
            let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.int64Value ?? 0
            return total + size
        }
    }
}

extension PartitionStore {
    /// `PRAGMA quick_check`: throws `corrupt_store` with SQLite's first complaint.
    public func quickCheck() throws {
        let rows = try db.rows("PRAGMA quick_check(5)")
        let problems = rows.compactMap { $0.first?.text }.filter { $0 != "ok" }
        if !problems.isEmpty { throw StoreError("corrupt_store", "\(path) fails its integrity check: \(problems.joined(separator: "; "))") }
    }

    /// Whether an error says the store's file is damaged (SQLite CORRUPT or NOTADB, or a
    /// failed check): the store is then set aside and rebuilt, never used.
    public static func isDamage(_ error: any Error) -> Bool {
        if let e = error as? SQLiteError { return [11, 26].contains(e.code & 0xFF) }
        if let e = error as? StoreError { return e.code == "corrupt_store" }
        return false
    }

    /// Moves a store's files aside (`<path>.damaged-<time>`, with its `-wal` and `-shm`),
    /// keeping them for the operator; returns the new name of the main file.
    public static func moveAside(path: String, now: Date = Date()) throws -> String {
        var stamp = ISO8601DateFormatter().string(from: now)
        stamp.removeAll { $0 == ":" }
        let target = "\(path).damaged-\(stamp)"
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
            try FileManager.default.moveItem(atPath: path + suffix, toPath: target + suffix)
        }
        return target
    }
}
