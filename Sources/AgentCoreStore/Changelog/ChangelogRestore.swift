/// A partition's changelog as a restore sees it: the worker reads and appends through Kafka,
/// tests through an array.
public protocol ChangelogLog {
    /// The first offset still in the log and the offset after its last record.
    func bounds() throws -> (low: Int64, high: Int64)
    /// Reads entries with offsets in `from..<until`, in order, in chunks; `body` returns
    /// false to stop early.
    func read(from: Int64, until: Int64, _ body: ([(offset: Int64, entry: ChangelogEntry)]) throws -> Bool) throws
    /// Appends an entry, waits until the log acknowledged it, and returns its offset.
    func append(_ entry: ChangelogEntry) throws -> Int64
}

/// What a restore did, for logs, heartbeats and tests.
public struct RestoreReport: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// The local store was at least as new as the changelog: nothing applied.
        case keptLocal = "kept_local"
        /// The local store was behind: the changelog's tail was applied onto it.
        case appliedTail = "applied_tail"
        /// The store was built from the whole changelog.
        case full
        /// A store with state but no changelog mark, and an empty changelog: kept, and all
        /// of it noted for publishing (an upgrade from a store without a changelog).
        case bootstrapped
    }
    public var kind: Kind
    /// Changelog rows applied into the store.
    public var rowsApplied = 0
    /// Changelog entries read (both passes).
    public var entriesRead = 0
    /// The epoch claimed and the claim's offset.
    public var epoch: Int64 = 0
    public var claimOffset: Int64 = -1
    /// Keys published again after the claim (rows after the last marker).
    public var compensated = 0
    /// The store stood behind its own last published marker (a lost WAL): it was brought
    /// forward from the changelog.
    public var wentBack = false
}

/// Why a local store cannot be brought up to date and must be set aside.
public struct RestoreNeedsRebuild: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}

/// The changelog has lost records a restore needs (retention, or the topic was recreated).
public struct ChangelogGap: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// Brings a store to the changelog's end and claims the partition under a new epoch (the
/// procedure is described in `docs/changelog.md`):
///
/// 1. Decide from the local store's mark (`changelog_epoch`, `changelog_offset`): read from
///    just after the mark, or the whole log for a store without one.
/// 2. First pass: read to the log's end into a `ChangelogTimeline`.
/// 3. Keep the local store when nobody else claimed the partition since its mark (it is at
///    least as new as the log); otherwise apply the rows that count up to the last marker
///    (second pass, committed in chunks: a restore cut short resumes where it stopped). A
///    store that has changes of its own not in the log while someone else wrote after it
///    diverged: `RestoreNeedsRebuild`.
/// 4. Claim with an epoch above every one seen; read up to the claim (a zombie may have
///    written meanwhile; a competing claim fails the restore), and note every key read
///    after the last marker for publishing again.
public struct ChangelogRestore {
    public var writer: String
    /// Rows per second-pass transaction.
    public var chunkRows = 5_000
    /// Called with (rows applied, rows to apply) after each chunk.
    public var progress: (Int, Int) -> Void = { _, _ in }
    /// Checked between chunks and before the claim; a cancelled restore throws `Cancelled`.
    public var isCancelled: () -> Bool = { false }

    /// A local store (an owner's left on disk, a standby copy) last in step with the
    /// changelog longer ago than this is rebuilt rather than brought forward from its mark:
    /// compaction drops a deletion's tombstone `delete.retention.ms` after cleaning it (1 day
    /// as `agentcore topics create` sets it), and a store that never read that tombstone
    /// would keep the deleted row. nil: no limit.
    public var maxLocalAgeMillis: Int64?
    /// The partition's latest claim as recorded in the consumer group (`GroupClaim`), if
    /// the worker read one: a store whose mark follows a newer claim is rebuilt, and the new
    /// claim's epoch is above it.
    public var groupClaim: GroupClaim?
    /// The wall clock, for `maxLocalAgeMillis` (tests move it).
    public var nowMillis: () -> Int64 = PartitionStore.wallClockMillis

    public struct Cancelled: Error {}

    public init(writer: String) { self.writer = writer }

    /// Fails when the store has been out of step with the changelog for too long (see
    /// `maxLocalAgeMillis`). A store without a record of it (older than the record) passes.
    private func checkAge(_ store: PartitionStore) throws {
        guard let limit = maxLocalAgeMillis, let synced = try store.changelogSyncedAt() else { return }
        let age = nowMillis() - synced
        guard age > limit else { return }
        throw RestoreNeedsRebuild(
            reason:
                "the store was last in step with the changelog \(age / 60_000) min ago, longer than the local store age limit (\(limit / 60_000) min): deletions whose tombstones compaction dropped since could be missing from it"
        )
    }

    /// A competing claim (another worker claimed between this one's read and its claim) is
    /// thrown, not retried: which of the two the group really assigned the partition to is
    /// not for the restore to decide, and out-claiming the rightful owner would void its
    /// writes. The worker retries later, after a rebalance has settled it.
    public func run(store: PartitionStore, log: ChangelogLog) throws -> RestoreReport {
        do {
            // A store left by a crash is checked before it is trusted.
            if store.openedAfterUncleanStop || store.suspectDamage {
                try store.quickCheck()
                store.suspectDamage = false
            }
            return try runOnce(store: store, log: log, claim: true)
        } catch  where PartitionStore.isDamage(error) {
            throw RestoreNeedsRebuild(reason: "the store is damaged: \(error)")
        }
    }

    /// A standby's pass: brings the store to the changelog's last marker like `run` does,
    /// but claims nothing and re-publishes nothing: the partition stays another worker's.
    /// Run it again and again to keep a warm copy; when the partition is assigned to this
    /// worker, `run` then applies only what came after the last pass (`applied_tail`) or
    /// nothing (`kept_local`). A store with changes that never reached the changelog, or
    /// whose ownership was lost, cannot follow (`RestoreNeedsRebuild`).
    public func follow(store: PartitionStore, log: ChangelogLog) throws -> RestoreReport {
        do {
            if store.openedAfterUncleanStop || store.suspectDamage {
                try store.quickCheck()
                store.suspectDamage = false
            }
            if try store.changelogDirtyThrough() > 0 {
                throw RestoreNeedsRebuild(reason: "the store has changes of its own that never reached the changelog")
            }
            return try runOnce(store: store, log: log, claim: false)
        } catch  where PartitionStore.isDamage(error) {
            throw RestoreNeedsRebuild(reason: "the store is damaged: \(error)")
        }
    }

    /// Whether the last marker stands past the store on some input topic.
    private func isBehind(_ store: PartitionStore, _ timeline: ChangelogTimeline) -> Bool {
        guard let m = timeline.lastMarker else { return false }
        return m.position.appliedOffsets.contains { topic, offset in (store.appliedOffsets[topic] ?? -1) < offset }
    }

    public struct CompetingClaim: Error, CustomStringConvertible {
        public var epoch: Int64
        public var description: String { "another worker claimed the partition at epoch \(epoch) while it was being restored" }
    }

    private func runOnce(store: PartitionStore, log: ChangelogLog, claim: Bool) throws -> RestoreReport {
        let standbyCopy = try store.isStandbyCopy()
        let (low, high) = try log.bounds()
        let mark = try store.changelogMark()
        let inProgress = try store.restoreProgress()
        let dirty = try store.changelogDirtyThrough() > 0
        var report = RestoreReport(kind: .full)
        var from: Int64
        var startEpoch: Int64 = 0
        if let inProgress {
            try checkAge(store)
            from = inProgress.from  // a restore cut short: the same first pass, the rest after `through`
            startEpoch = mark?.epoch ?? 0
        } else if let mark, mark.offset >= high {
            // The log ends before this store's own mark: the topic was recreated or
            // truncated. The store is the only copy left: publish all of it again.
            from = high
            startEpoch = mark.epoch
            report.kind = .bootstrapped
        } else if let mark {
            try checkAge(store)
            from = mark.offset + 1
            startEpoch = mark.epoch
        } else if try store.hasState() {
            guard high <= low else {
                throw RestoreNeedsRebuild(reason: "the store has state but no changelog mark, and the changelog is not empty")
            }
            from = low
            report.kind = .bootstrapped
        } else {
            from = 0
        }
        if from < low {
            throw ChangelogGap(
                description:
                    "changelog records \(from)..<\(low) are gone (retention, or the topic was recreated): the store cannot be restored from Kafka"
            )
        }
        // First pass.
        var timeline = ChangelogTimeline(startEpoch: startEpoch, from: from)
        try log.read(from: from, until: high) { chunk in
            for (o, e) in chunk { timeline.observe(offset: o, e) }
            report.entriesRead += chunk.count
            return !isCancelled()
        }
        if isCancelled() { throw Cancelled() }
        // Someone else claimed the partition since the mark. A claim of this store's own
        // whose restore did not finish (`changelog_claiming`) is not someone else.
        let pending = try store.pendingClaim()
        let foreign = timeline.claims.contains { !($0.epoch == pending && $0.writer == writer) }
        if mark != nil && inProgress == nil, try store.lostOwnership() {
            throw RestoreNeedsRebuild(
                reason:
                    "this worker lost the partition (its session expired) while holding the store; what it wrote since may have been voided by a newer owner"
            )
        }
        if let g = groupClaim, let mark, inProgress == nil, mark.offset < high, g.offset < mark.offset, g.epoch > mark.epoch {
            // A newer owner claimed the partition before this store's mark (the claim is
            // not in what was read): the mark itself is a zombie's.
            throw RestoreNeedsRebuild(
                reason:
                    "the store's changelog mark (offset \(mark.offset), epoch \(mark.epoch)) follows a newer owner's claim recorded in the consumer group (\(g)): its state was a zombie's"
            )
        }
        if mark != nil && inProgress == nil && timeline.claims.isEmpty && timeline.maxEpoch > startEpoch {
            // Newer epochs' records follow the store's mark with no claim between: the mark
            // itself came after a newer owner's claim (this store was a zombie's).
            throw RestoreNeedsRebuild(
                reason: "the store's changelog mark follows a newer owner's claim (epoch \(timeline.maxEpoch)): its state was a zombie's"
            )
        }
        var position: ChangelogPosition?
        if !claim && report.kind == .bootstrapped {
            throw RestoreNeedsRebuild(reason: "a standby copy cannot start from a store the changelog does not hold")
        }
        if report.kind == .bootstrapped {
            try store.markAllChanged()
            position = nil
        } else if mark != nil && inProgress == nil && !foreign && !isBehind(store, timeline)
            && !((standbyCopy || !claim) && timeline.lastMarker != nil)
        {
            // A standby copy stands at its last marker: any later marker (one that only
            // acknowledges, or one after the input was rewound) moves it, offsets or not.
            report.kind = .keptLocal
        } else {
            if mark != nil && inProgress == nil && !foreign {
                // Only this writer's own units follow the mark, yet they stand further than
                // the store: the store went back (its WAL was lost, or an older copy of the
                // file was put back), unless it is a standby's copy, which follows others'
                // units by design. The units bring it forward.
                report.wentBack = !standbyCopy && claim
            } else if mark != nil && inProgress == nil && dirty {
                throw RestoreNeedsRebuild(
                    reason:
                        "the store has changes that never reached the changelog, and another worker wrote the partition since (epoch \(timeline.currentEpoch))"
                )
            }
            if mark != nil {
                report.kind = .appliedTail
                // Units this writer published after the store's mark: the store lost them.
                if inProgress == nil && isBehind(store, timeline) && timeline.markerWriters.contains(writer) && !standbyCopy && claim {
                    report.wentBack = true
                }
            }
            try store.beginRestore(from: from)
            let resumeAfter = try store.restoreProgress()?.through ?? (from - 1)
            if let m = timeline.lastMarker, m.offset > resumeAfter + 1 {
                var rows: [(key: [UInt8], value: [UInt8]?)] = []
                var last = resumeAfter
                let target = timeline.rowsThroughMarker
                try log.read(from: resumeAfter + 1, until: m.offset) { chunk in
                    for (o, e) in chunk {
                        last = o
                        if case .row(let key, let value, let epoch) = e, timeline.applies(offset: o, epoch: epoch) {
                            rows.append((key, value))
                        }
                    }
                    report.entriesRead += chunk.count
                    if rows.count >= chunkRows {
                        try store.applyChangelog(rows, through: last)
                        report.rowsApplied += rows.count
                        rows.removeAll(keepingCapacity: true)
                        progress(report.rowsApplied, target)
                    }
                    return !isCancelled()
                }
                if isCancelled() { throw Cancelled() }
                try store.applyChangelog(rows, through: m.offset)
                report.rowsApplied += rows.count
                progress(report.rowsApplied, target)
            }
            position = timeline.lastMarker?.position
        }
        if isCancelled() { throw Cancelled() }
        if !claim {
            // A standby stands at the last marker it applied; with none (nothing new, or a
            // unit still being written), its mark stays where it was.
            if let m = timeline.lastMarker, report.kind != .keptLocal {
                try store.finishFollow(position: m.position, epoch: m.epoch, offset: m.offset)
            } else if try store.restoreProgress() != nil, let m = timeline.lastMarker {
                try store.finishFollow(position: m.position, epoch: m.epoch, offset: m.offset)
            }
            return report
        }
        // Claim, then read up to the claim: whatever came in meanwhile is published again.
        // The claim repeats the marker the store stands at (read back when it was the
        // store's own mark, before this read).
        var standsAt = timeline.lastMarker
        if standsAt == nil, let mark, mark.offset >= low, mark.offset < high {
            try log.read(from: mark.offset, until: mark.offset + 1) { chunk in
                switch chunk.first?.entry {
                case .marker(let e, let w, let p)?: standsAt = .init(offset: mark.offset, epoch: e, writer: w, position: p)
                case .claim(_, _, _, let m?)?: standsAt = m
                default: break
                }
                return false
            }
        }
        let epoch = max(timeline.maxEpoch, groupClaim?.epoch ?? 0) + 1
        try store.notePendingClaim(epoch)  // before the claim exists: see `pendingClaim`
        let claimOffset = try log.append(.claim(epoch: epoch, writer: writer, restoredThrough: high - 1, marker: standsAt))
        var compensate = timeline.keysAfterMarker
        var competing: Int64?
        try log.read(from: high, until: claimOffset) { chunk in
            for (_, e) in chunk {
                switch e {
                case .row(let key, _, _): compensate.insert(key)
                case .claim(let other, let w, _, _) where other >= epoch && w != writer: competing = other
                default: break
                }
            }
            report.entriesRead += chunk.count
            return true
        }
        if let competing { throw CompetingClaim(epoch: competing) }
        if isCancelled() { throw Cancelled() }  // the read up to the claim was cut short
        try store.finishRestore(position: position, epoch: epoch, offset: claimOffset, compensate: compensate)
        report.epoch = epoch
        report.claimOffset = claimOffset
        report.compensated = compensate.count
        return report
    }
}
