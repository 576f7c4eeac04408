import AgentCoreKafka
import AgentCoreStore
import Foundation
import Logging
import Synchronization

/// Standby replicas (`--standbys N`): keeps warm copies of partitions this worker does not
/// own, in its own data directory, by running `ChangelogRestore.follow` on each about once a
/// `interval`, on one thread. When the group assigns one of them to this worker, the loop
/// `release`s it first (its store is closed), and the ordinary restore then reads only what
/// came after the last pass.
///
/// `@unchecked Sendable`: the stores and changelog readers live in the thread's own
/// variables; everything shared is behind `state` or atomic.
final class StandbyFollower: @unchecked Sendable {
    private struct State {
        var wanted: Set<Int32> = []
        /// Partitions whose store the thread holds open.
        var open: Set<Int32> = []
        /// Per partition: the last pass's report or error, for heartbeats and logs.
        var last: [Int32: Pass] = [:]
        /// `release` calls waiting: a pass in progress stops for them.
        var releasing = 0
    }

    struct Pass: Sendable {
        var rowsApplied: Int
        var error: String?
    }

    private let state = Mutex(State())
    private let running = Atomic<Bool>(true)
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    init(
        writer: String,
        interval: Duration,
        storePath: @escaping @Sendable (Int32) -> String,
        options: StoreOptions,
        maxLocalAgeMillis: Int64?,
        makeLog: @escaping @Sendable (Int32, _ isCancelled: @escaping () -> Bool) throws -> ChangelogLog,
        logger: Logger
    ) {
        let intervalMs = Int(interval.components.seconds * 1000 + interval.components.attoseconds / 1_000_000_000_000_000)
        let thread = Thread { [self] in
            defer { finished.signal() }
            var stores: [Int32: PartitionStore] = [:]
            var logs: [Int32: ChangelogLog] = [:]
            var failures: [Int32: Int] = [:]
            /// Closes p's copy; `setAside` moves its files aside first, while p still counts
            /// as open (a `release(p)` waits, so the owner never opens a file being renamed),
            /// and only if p is still wanted (released: the owner's now, left alone).
            func close(_ p: Int32, setAside reason: RestoreNeedsRebuild? = nil) {
                stores.removeValue(forKey: p)?.close()
                logs[p] = nil
                if let reason, state.withLock({ $0.wanted.contains(p) }) {
                    let aside = try? PartitionStore.moveAside(path: storePath(p))
                    logger.warning("standby copy of partition \(p): \(reason); set aside to \(aside ?? "?"), starting it over")
                }
                state.withLock { _ = $0.open.remove(p) }
            }
            while running.load(ordering: .acquiring) {
                let wanted = state.withLock { $0.wanted }
                for p in stores.keys where !wanted.contains(p) { close(p) }
                for p in wanted.sorted() {
                    guard running.load(ordering: .acquiring), state.withLock({ $0.wanted.contains(p) && $0.releasing == 0 }) else {
                        if !state.withLock({ $0.wanted.contains(p) }) { close(p) }
                        continue
                    }
                    let isCancelled = { [self] in
                        !running.load(ordering: .relaxed) || state.withLock { !$0.wanted.contains(p) || $0.releasing > 0 }
                    }
                    do {
                        if stores[p] == nil {
                            // Checked and marked open in one step: a `release(p)` either sees it
                            // open (and waits) or has already taken p out of `wanted`.
                            let mayOpen = state.withLock { s -> Bool in
                                guard s.wanted.contains(p) && s.releasing == 0 else { return false }
                                s.open.insert(p)
                                return true
                            }
                            guard mayOpen else { continue }
                            stores[p] = try PartitionStore(path: storePath(p), partition: p, options: options)
                        }
                        if logs[p] == nil { logs[p] = try makeLog(p, isCancelled) }
                        var restore = ChangelogRestore(writer: writer)
                        restore.maxLocalAgeMillis = maxLocalAgeMillis
                        restore.isCancelled = isCancelled
                        let report = try restore.follow(store: stores[p]!, log: logs[p]!)
                        if failures[p, default: 0] > 0 || state.withLock({ $0.last[p] == nil }) {
                            logger.info("standby copy of partition \(p) is warm (\(report.rowsApplied) changelog rows applied)")
                        }
                        failures[p] = 0
                        state.withLock { $0.last[p] = Pass(rowsApplied: report.rowsApplied, error: nil) }
                    } catch is ChangelogRestore.Cancelled {
                        // Cut short (the progress is kept in the store: the next pass resumes).
                        if !state.withLock({ $0.wanted.contains(p) }) { close(p) }
                    } catch let e as RestoreNeedsRebuild {
                        close(p, setAside: e)
                    } catch {
                        close(p)
                        failures[p, default: 0] += 1
                        let n = failures[p]!
                        state.withLock { $0.last[p] = Pass(rowsApplied: 0, error: "\(error)") }
                        if n == 1 || n % 60 == 0 {
                            logger.warning("standby copy of partition \(p) cannot follow the changelog (\(error)); trying again (\(n) failures)")
                        }
                    }
                }
                _ = wake.wait(timeout: .now() + .milliseconds(intervalMs))
            }
            for p in Array(stores.keys) { close(p) }
        }
        thread.name = "agentcore-standby"
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// The partitions to keep warm (the loop's placement).
    func setWanted(_ partitions: Set<Int32>) {
        let changed = state.withLock { s -> Bool in
            defer { s.wanted = partitions }
            return s.wanted != partitions
        }
        if changed { wake.signal() }
    }

    var wanted: Set<Int32> { state.withLock { $0.wanted } }

    /// Stops following `p` and waits until its store is closed (the loop is about to open
    /// it as the owner). A pass in progress stops between chunks.
    func release(_ p: Int32) {
        state.withLock {
            _ = $0.wanted.remove(p)
            $0.releasing += 1
        }
        wake.signal()
        while state.withLock({ $0.open.contains(p) }) && running.load(ordering: .acquiring) { usleep(2_000) }
        state.withLock { $0.releasing -= 1 }
        wake.signal()
    }

    /// Stops the thread and closes every standby store.
    func stop() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        wake.signal()
        finished.wait()
    }

    /// Placement: `count` partitions per owned one, taken in partition order after the
    /// highest owned partition (wrapping), never owned ones. With the range assignor and
    /// workers of equal shares, a worker's standbys are the next worker's partitions, which
    /// it is likely to get when that worker leaves.
    static func placement(owned: Set<Int32>, partitions: Int32, count: Int) -> Set<Int32> {
        guard let top = owned.max(), count > 0, partitions > 0 else { return [] }
        let want = min(count * owned.count, Int(partitions) - owned.count)
        var out = Set<Int32>()
        var p = (top + 1) % partitions
        while out.count < want {
            if !owned.contains(p) { out.insert(p) }
            p = (p + 1) % partitions
        }
        return out
    }
}
