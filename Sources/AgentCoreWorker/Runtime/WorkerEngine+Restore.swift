import AgentCoreKafka
import AgentCoreStore
import Foundation

/// Partitions on assignment: open (or set aside and recreate) the store, restore it from the
/// changelog on a thread of its own with the partition's input paused, then seek the input
/// to the restored offsets and resume. Runs on the loop thread.
extension WorkerEngine {
    func storePath(_ p: Int32) -> String {
        (config.dataDirectory as NSString).appendingPathComponent("partition-\(p).sqlite")
    }

    /// Opens partition p's store. With the changelog on, a store that cannot be opened
    /// (damaged, or from another partition) is moved aside and a new one is restored.
    func openStore(_ p: Int32) throws -> PartitionStore {
        let path = storePath(p)
        do {
            return try PartitionStore(path: path, partition: p, options: storeOptions)
        } catch {
            guard config.changelog else { throw error }
            let aside = try PartitionStore.moveAside(path: path)
            logger.error(
                "store of partition \(p) cannot be opened (\(error)): moved aside to \(aside); rebuilding it from \(config.topics.changelog)"
            )
            return try PartitionStore(path: path, partition: p, options: storeOptions)
        }
    }

    /// Makes readers of one partition of the changelog: a consumer of its own each, appends
    /// through the worker's producer (restores and standby copies).
    func changelogLogs(producer: KafkaProducer) -> @Sendable (Int32, @escaping () -> Bool) throws -> ChangelogLog {
        let topic = config.topics.changelog
        let kafka = config.kafkaConfig(bootstrap: bootstrap)
        let worker = config.workerId
        let logger = self.logger
        return { p, isCancelled in
            try KafkaChangelogLog(
                topic: topic,
                partition: p,
                kafka: kafka,
                producer: producer,
                workerId: worker,
                isCancelled: isCancelled,
                logger: logger
            )
        }
    }

    func makeStandbyFollower(producer: KafkaProducer) -> StandbyFollower {
        let dir = config.dataDirectory
        var options = storeOptions
        options.cacheSizeKiB = 1_024  // a copy nobody reads: a small cache of its own
        return StandbyFollower(
            writer: config.workerId,
            interval: .milliseconds(Int64(config.standbyIntervalMs)),
            storePath: { (dir as NSString).appendingPathComponent("partition-\($0).sqlite") },
            options: options,
            maxLocalAgeMillis: config.localStoreMaxAgeMillis,
            makeLog: changelogLogs(producer: producer),
            logger: logger
        )
    }

    /// At start-up, before any store is open: removes stale store copies
    /// (`StaleStores`) if no other worker uses the data directory now (the shared lock is
    /// turned exclusive for the sweep, then back).
    func removeStaleStoresAtStart(lock fd: Int32) {
        guard config.changelog, let maxAge = config.localStoreMaxAgeMillis else { return }
        if dirLockedAlone || flock(fd, LOCK_EX | LOCK_NB) == 0 {
            StaleStores.remove(in: config.dataDirectory, inUse: [], maxAgeMillis: maxAge, logger: logger)
        }
        // Back to shared (a failed conversion may also have dropped it: flock(2)).
        if !dirLockedAlone { flock(fd, LOCK_SH | LOCK_NB) }
        lastStaleSweepNanos = DispatchTime.now().uptimeNanoseconds
    }

    /// Every `staleStoreSweepMs` (10 minutes) while the worker holds its directory alone: removes stale store
    /// copies of partitions it neither owns nor follows.
    func removeStaleStoresIfDue(now: UInt64) {
        guard dirLockedAlone, config.changelog, let maxAge = config.localStoreMaxAgeMillis,
            now &- lastStaleSweepNanos >= config.staleStoreSweepMs * 1_000_000
        else { return }
        lastStaleSweepNanos = now
        let inUse = Set(lanes.keys).union(standby?.wanted ?? [])
        StaleStores.remove(in: config.dataDirectory, inUse: inUse, maxAgeMillis: maxAge, logger: logger)
    }

    /// Sets the standby copies for the partitions owned now (`StandbyFollower.placement`).
    func updateStandbys() {
        guard let standby else { return }
        let wanted = StandbyFollower.placement(owned: Set(lanes.keys), partitions: partitionCount, count: config.standbys)
        if wanted != standby.wanted {
            logger.info("standby copies: \(wanted.sorted())")
            standby.setWanted(wanted)
        }
    }

    func startRestore(_ lane: PartitionLane) {
        guard let producer else { return }
        let p = lane.partition
        let logs = changelogLogs(producer: producer)
        lane.lifecycle.restoreStarted()
        // The partition's latest claim as the group records it, read on the restore's thread.
        let claimPartitions = config.topics.inputs.map { TopicPartition($0, p) }
        let readGroupClaim: @Sendable () throws -> GroupClaim? = { [consumer] in
            guard let consumer else { return nil }
            return GroupClaim.newest(try consumer.committed(claimPartitions, timeoutMs: 5_000).map(\.metadata))
        }
        lane.restorer = PartitionRestorer(
            partition: p,
            store: lane.store,
            writer: config.workerId,
            maxLocalAgeMillis: config.localStoreMaxAgeMillis,
            chunkRows: config.restoreChunkRows,
            hold: restoreHold,
            readGroupClaim: readGroupClaim,
            makeLog: { isCancelled in try logs(p, isCancelled) },
            logger: logger
        )
    }

    /// Seeks the partition's input to its store's offsets and resumes it.
    /// Returns where each input topic resumes.
    @discardableResult
    func resumeInput(_ lane: PartitionLane, consumer: KafkaConsumer) throws -> [TopicPartitionOffset] {
        let tps = config.topics.inputs.map { TopicPartition($0, lane.partition) }
        let starts = tps.map { TopicPartitionOffset($0, offset: lane.store.resumeOffset(topic: $0.topic) ?? TopicPartitionOffset.beginning) }
        try consumer.seek(starts)
        if !paused { try consumer.resume(tps) }
        return starts
    }

    /// Inside the rebalance callback, right after the assignment: partitions being
    /// restored fetch no input until their restore is done.
    func pauseInactive(_ tps: [TopicPartition]) {
        let inactive = tps.filter { lanes[$0.partition]?.isActive == false }
        guard !inactive.isEmpty, let consumer else { return }
        do { try consumer.pause(inactive) } catch { logger.error("cannot pause partitions being restored: \(error)") }
    }

    /// Closes a lane's store; with `persist`, an active lane's acknowledgements kept in memory
    /// are written first (else a restart publishes those results again, same ids): a stop
    /// whose revoke did not run (the group left without it) still leaves the file current.
    func closeStore(_ lane: PartitionLane, persist: Bool) {
        if persist && lane.isActive {
            do { try lane.store.persistAcknowledgements() } catch {
                logger.warning(
                    "partition \(lane.partition): acknowledged results not written before closing (\(error)); a restart publishes them again"
                )
            }
        }
        lane.store.close()
    }

    /// Takes partition p out of service after an error of its store (apply, outbox,
    /// changelog: an I/O error, a full disk): its input is paused and its buffered records
    /// dropped (they are fetched again from the store's offsets), the other partitions go
    /// on, and it is tried again after `restoreRetryMs` (a restore, which keeps an intact
    /// store, then a resume).
    func failLane(_ lane: PartitionLane, _ error: any Error, consumer: KafkaConsumer, retry: Bool = true) {
        let p = lane.partition
        guard lanes[p] === lane, lane.isActive else { return }
        if PartitionStore.isDamage(error) { lane.store.suspectDamage = true }
        let fresh = PartitionLane(partition: p, store: lane.store, lifecycle: PartitionLifecycle(carrying: lane.lifecycle))
        fresh.epoch = lane.epoch
        fresh.markerPublishedThrough = lane.markerPublishedThrough
        lanes[p] = fresh
        let tps = config.topics.inputs.map { TopicPartition($0, p) }
        do { try consumer.pause(tps) } catch { logger.error("cannot pause partition \(p): \(error)") }
        markFailed(fresh, "is out of service: \(error)", now: DispatchTime.now().uptimeNanoseconds, retry: retry)
    }

    /// Input offsets fell below what the store applied (see `WorkerConfiguration.acceptRewoundInput`).
    struct RewoundInput: Error, CustomStringConvertible {
        var description: String
    }

    /// Records that a partition is out of service (its input stays paused) until `retryAt`.
    func markFailed(_ lane: PartitionLane, _ reason: String, now: UInt64, retry: Bool = true) {
        // Backoff: the retry delay doubles with each failure in a row, up to 5 minutes.
        let delayMs = lane.lifecycle.failed(reason, now: now, retry: retry) ?? 0
        statusBox.withLock {
            $0.failed[lane.partition] = reason
            $0.partitionFailures += 1
        }
        logger.error(
            "partition \(lane.partition) \(reason) (\(diskSpace())). Its input stays paused (no record is skipped); the other partitions go on; \(retry ? "retrying in \(delayMs) ms" : "it stays stopped until the operator acts")"
        )
    }

    /// Free space of the data directory, for messages about full disks.
    func diskSpace() -> String {
        guard let a = try? FileManager.default.attributesOfFileSystem(forPath: config.dataDirectory),
            let free = (a[.systemFreeSize] as? NSNumber)?.int64Value
        else { return "free space of \(config.dataDirectory) unknown" }
        return "\(free / 1_048_576) MiB free in \(config.dataDirectory)"
    }

    /// Takes the results of finished restores and retries failed partitions when due.
    func checkRestores(consumer: KafkaConsumer) throws {
        let now = DispatchTime.now().uptimeNanoseconds
        for lane in ownedLanes {
            let p = lane.partition
            if lane.lifecycle.retryDue(now: now) {
                logger.info("partition \(p): trying it again")
                if lane.storeClosed {
                    do {
                        lane.store = try PartitionStore(path: storePath(p), partition: p, options: storeOptions)
                        lane.storeClosed = false
                    } catch {
                        markFailed(lane, "cannot open its store: \(error)", now: now)
                        continue
                    }
                }
                if config.changelog {
                    startRestore(lane)
                } else {
                    lane.lifecycle.resumed()
                    statusBox.withLock { $0.failed[p] = nil }
                    do { try resumeInput(lane, consumer: consumer) } catch {
                        markFailed(lane, "cannot resume its input: \(error)", now: now)
                    }
                }
                continue
            }
            guard let r = lane.restorer, let outcome = r.outcome.withLock({ $0 }) else { continue }
            lane.restorer = nil
            switch outcome {
            case .success(let report):
                lane.lifecycle.restoreSucceeded()
                lane.epoch = report.epoch
                lane.groupClaim = GroupClaim(epoch: report.epoch, offset: report.claimOffset, writer: config.workerId)
                do { try consumer.commit(committedOffsets([lane]), async: false) } catch {
                    // The next offset commit carries it again.
                    logger.warning("partition \(p): its claim (epoch \(report.epoch)) could not be recorded in the consumer group yet: \(error)")
                }
                lane.markerPublishedThrough = -1
                let seconds = Double(now - r.startedAt) / 1e9
                if report.wentBack {
                    logger.warning(
                        "partition \(p): the store stood behind what it had published to the changelog (its WAL lost, or an older copy of the file?); brought forward from the changelog"
                    )
                }
                statusBox.withLock {
                    $0.failed[p] = nil
                    $0.restores.append(WorkerStatus.Restore(partition: p, report: report, seconds: seconds))
                    if $0.restores.count > 100 { $0.restores.removeFirst() }
                }
                let starts: [TopicPartitionOffset]
                do { starts = try resumeInput(lane, consumer: consumer) } catch {
                    markFailed(lane, "cannot resume its input: \(error)", now: now)
                    continue
                }
                logger.info(
                    "partition \(p) restored (\(report.kind.rawValue)): \(report.rowsApplied) changelog rows applied, \(report.entriesRead) read, \(report.compensated) republished, epoch \(report.epoch), in \(String(format: "%.2f", seconds)) s; input resumes at \(starts.map { "\($0.topicPartition.topic)@\($0.offset)" }.joined(separator: ", "))"
                )
            case .failure(let e as RestoreNeedsRebuild):
                lane.store.close()
                lane.storeClosed = true
                do {
                    let aside = try PartitionStore.moveAside(path: storePath(p))
                    logger.error("partition \(p): \(e); the store was moved aside to \(aside) and is rebuilt from \(config.topics.changelog)")
                    lane.store = try PartitionStore(path: storePath(p), partition: p, options: storeOptions)
                    lane.storeClosed = false
                    startRestore(lane)
                } catch {
                    markFailed(lane, "\(e); setting the store aside failed: \(error)", now: now)
                }
            case .failure(let e):
                if e is ChangelogRestore.Cancelled {
                    // Only a revoke cancels a restore, and it drops the lane; a lane still
                    // here is retried like any failed restore rather than left restoring.
                    markFailed(lane, "restore was cancelled", now: now)
                    continue
                }
                markFailed(lane, "cannot be restored: \(e)", now: now)
            }
        }
    }
}
