import AgentCoreKafka
import AgentCoreStore
import Foundation
import Logging
import Synchronization

/// Runs one partition's `ChangelogRestore` on a thread of its own, so that the worker loop
/// keeps applying the partitions that are ready. The store belongs to this thread until
/// `outcome` is set, then to the loop again.
///
/// `@unchecked Sendable`: the store (not thread safe) is handed over to the thread at start
/// and handed back through `outcome`; the loop never touches it in between.
final class PartitionRestorer: @unchecked Sendable {
    let partition: Int32
    let cancelled = Atomic<Bool>(false)
    /// The restore's result, set once when the thread ends.
    let outcome = Mutex<Result<RestoreReport, any Error>?>(nil)
    /// (rows applied, rows to apply) of the second pass.
    let progress = Mutex<(applied: Int, target: Int)>((0, 0))
    let startedAt = DispatchTime.now().uptimeNanoseconds
    private let finished = DispatchSemaphore(value: 0)

    init(
        partition: Int32,
        store: PartitionStore,
        writer: String,
        maxLocalAgeMillis: Int64?,
        chunkRows: Int = 5_000,
        hold: RestoreHold? = nil,
        readGroupClaim: (@Sendable () throws -> GroupClaim?)? = nil,
        makeLog: @escaping @Sendable (_ isCancelled: @escaping () -> Bool) throws -> ChangelogLog,
        logger: Logger
    ) {
        self.partition = partition
        let handOver = HandOver(store)
        let thread = Thread { [self, handOver] in
            let store = handOver.value
            defer { finished.signal() }
            let result: Result<RestoreReport, any Error> = Result {
                let isCancelled = { [self] in cancelled.load(ordering: .relaxed) }
                let log = try makeLog(isCancelled)
                var restore = ChangelogRestore(writer: writer)
                restore.maxLocalAgeMillis = maxLocalAgeMillis
                restore.chunkRows = chunkRows
                restore.isCancelled = isCancelled
                do { restore.groupClaim = try readGroupClaim?() } catch {
                    throw GroupClaimUnreadable(underlying: error)
                }
                var lastLog = DispatchTime.now().uptimeNanoseconds
                restore.progress = { [self] applied, target in
                    progress.withLock { $0 = (applied, target) }
                    if let hold, hold.claim(partition, applied: applied) {
                        while !isCancelled() { usleep(10_000) }
                    }
                    let now = DispatchTime.now().uptimeNanoseconds
                    if now - lastLog > 2_000_000_000 {
                        lastLog = now
                        logger.info("restoring partition \(partition): \(applied)/\(target) changelog rows")
                    }
                }
                return try restore.run(store: store, log: log)
            }
            outcome.withLock { $0 = result }
        }
        thread.name = "agentcore-restore-\(partition)"
        thread.stackSize = 1 << 20
        thread.start()
    }

    var isDone: Bool { outcome.withLock { $0 != nil } }

    /// Asks the restore to stop and waits for its thread (it checks between chunks).
    func cancelAndWait() {
        cancelled.store(true, ordering: .relaxed)
        finished.wait()
        finished.signal()  // later waits return at once
    }
}

/// The consumer group's record of the partition's claims could not be read: the restore
/// fails (and is retried) rather than go on blind to a claim before the store's mark.
struct GroupClaimUnreadable: Error, CustomStringConvertible {
    let underlying: any Error
    var description: String { "cannot read the partition's claim from the consumer group's committed offsets: \(underlying)" }
}

/// Tests: holds the first restore of each partition that reaches `afterRows` applied
/// rows until it is cancelled (`WorkerConfiguration.restoreHoldAfterRows`).
final class RestoreHold: Sendable {
    let afterRows: Int
    private let held = Mutex<Set<Int32>>([])

    init(afterRows: Int) { self.afterRows = afterRows }

    /// Whether this restore of partition p holds now (once per partition).
    func claim(_ p: Int32, applied: Int) -> Bool {
        guard applied >= afterRows else { return false }
        return held.withLock { $0.insert(p).inserted }
    }
}

/// Carries a value that is not `Sendable` to a thread that becomes its only user.
struct HandOver<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
