import AgentCoreKafka
import AgentCoreModel
import AgentCoreStore
import CoreMetrics
import Foundation
import Logging
import Synchronization

/// The worker's loop: poll → merge per partition → apply (one transaction per partition and
/// round) → publish the outboxes → commit group offsets, with rebalance hooks that open and
/// close stores. Everything except `requestStop` and `status` runs on the loop's own thread.
///
/// `@unchecked Sendable`: the mutable state (lanes, clients) is confined to the loop thread;
/// the cross-thread parts (`stopRequested`, `statusBox`) are atomics and mutexes.
final class WorkerEngine: @unchecked Sendable {
    let config: WorkerConfiguration
    let bootstrap: String
    let logger: Logger
    var producer: KafkaProducer?
    var consumer: KafkaConsumer?
    var lanes: [Int32: PartitionLane] = [:]
    /// Warm copies of partitions this worker does not own (`config.standbys`).
    var standby: StandbyFollower?
    var partitionCount: Int32 = 0
    private var revokedThisPoll: Set<Int32> = []
    private var assignedThisPoll: Set<Int32> = []
    var storeOptions: StoreOptions
    private var rebalanceFailure: (any Error)?
    var paused = false
    /// When the last poll with records returned, the last full one (a backlog), and when
    /// `wakeStalledFetch` last acted.
    var lastInputNanos: UInt64 = 0
    var lastFullPollNanos: UInt64 = 0
    var lastRefetchNanos: UInt64 = 0
    var refetchDelayNanos = WorkerEngine.refetchAfterNanos
    var refetchPending = false
    /// Partitions whose store this process has checked once (see `assign`).
    private var checkedPartitions: Set<Int32> = []
    private var inflight: PublishRound?
    let stopRequested = Atomic<Bool>(false)
    let statusBox: Mutex<WorkerStatus>
    /// The HTTP address heartbeats advertise (`WorkerConfiguration.httpURL`, or what the
    /// HTTP server bound to when it picked its own port).
    let httpURL: Mutex<String?>
    let startedAtNanos = DispatchTime.now().uptimeNanoseconds
    var lastHeartbeatNanos: UInt64 = 0
    /// Whether this worker holds its data directory's lock exclusively (it has standbys):
    /// stale store copies are then removed as they age (`removeStaleStores`).
    var dirLockedAlone = false
    var lastStaleSweepNanos: UInt64 = 0
    /// Tests: `WorkerConfiguration.restoreHoldAfterRows`.
    lazy var restoreHold: RestoreHold? = config.restoreHoldAfterRows > 0 ? RestoreHold(afterRows: config.restoreHoldAfterRows) : nil
    /// Partitions applied since the last group offset commit, and when that was.
    private var uncommitted: Set<Int32> = []
    private var lastCommitNanos: UInt64 = 0
    /// The last time the loop noted itself running (`noteRunning`), and whether a stall
    /// since then was long enough for the group session to expire.
    private var lastRunningNanos: UInt64 = 0
    private(set) var stalledPastSession = false
    var lastHeartbeatApplied = 0
    let metrics: WorkerMetrics
    /// Uptime nanoseconds at the end of the loop's last step (liveness).
    let lastStepNanos = Atomic<UInt64>(0)
    /// The partition states last copied into `statusBox`.
    private var publishedStates: [Int32: WorkerStatus.PartitionState] = [:]

    static let eventIdHeader = "agentcore-event-id"
    /// Results rows one publishing round takes from a lane (at least what one step applies,
    /// 2 × batch size): bounds the events held in memory (and queued in librdkafka) at
    /// once; a backlog drains over several rounds.
    static let outboxRowsPerRound = 4_096
    /// Polls gathered into one step while they come back full (see `step`).
    static let maxPollsPerStep = 16

    init(config: WorkerConfiguration, bootstrap: String, logger: Logger, metrics: any MetricsFactory) {
        self.config = config
        self.bootstrap = bootstrap
        self.logger = logger
        self.metrics = WorkerMetrics(factory: metrics)
        self.storeOptions = config.store
        self.statusBox = Mutex(WorkerStatus(workerId: config.workerId))
        self.httpURL = Mutex(config.httpURL)
    }

    var ownedLanes: [PartitionLane] { lanes.keys.sorted().map { lanes[$0]! } }
    /// Lanes applying input (not restoring, not failed), in partition order.
    var activeLanes: [PartitionLane] { ownedLanes.filter(\.isActive) }

    func requestStop() { stopRequested.store(true, ordering: .releasing) }

    /// A lock on `<dir>/.worker.lock` (held while the descriptor is open), shared or
    /// exclusive, or -1 when another worker (process or not) holds a conflicting one.
    static func lockDirectory(_ dir: String, exclusive: Bool) -> Int32 {
        let fd = open((dir as NSString).appendingPathComponent(".worker.lock"), O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return -1 }
        if flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 {
            close(fd)
            return -1
        }
        return fd
    }

    /// Runs until stopped or failed; blocking.
    func run() throws {
        try FileManager.default.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true)
        let kafka = config.kafkaConfig(bootstrap: bootstrap)
        var producerConfig = kafka
        // A missing output topic is a start-up error, not one a broker creates on the fly
        // with its default partition count (librdkafka's producer asks for that by default).
        if producerConfig.properties["allow.auto.create.topics"] == nil { producerConfig.properties["allow.auto.create.topics"] = "false" }
        // A record still queued when the process stops (SIGSTOP, a frozen VM) must not land
        // after another worker claimed its partition: with delivery bounded below the group
        // session, it lands before the session can expire or fails (librdkafka ages its
        // queue out before sending again). What is produced after such a stop waits for the
        // group (`noteRunning`). See docs/changelog.md, "Fencing".
        if producerConfig.properties["message.timeout.ms"] == nil && producerConfig.properties["delivery.timeout.ms"] == nil {
            producerConfig.properties["message.timeout.ms"] = String(config.producerDeliveryTimeoutMs)
        }
        let producer = try KafkaProducer(config: producerConfig, logger: logger)
        self.producer = producer
        defer { producer.close(timeoutMs: Int32(min(config.shutdownTimeoutMs, 10_000))) }
        let count = try checkTopics(producer)
        storeOptions.partitionCount = Int32(count)
        partitionCount = Int32(count)
        statusBox.withLock { $0.partitionCount = count }
        // Every worker locks its data directory: shared by workers that only touch the
        // stores of partitions they own (several may share a directory), exclusive for one
        // with standbys, which writes copies of partitions it does not own (their owner
        // could be another worker on this directory).
        var dirLock = Self.lockDirectory(config.dataDirectory, exclusive: config.standbys > 0 && config.changelog)
        if dirLock < 0 && config.standbys > 0 && config.changelog {
            logger.error(
                "standby copies are off: another worker uses the data directory \(config.dataDirectory) (standbys need a directory of their own)"
            )
            dirLock = Self.lockDirectory(config.dataDirectory, exclusive: false)
        } else if dirLock >= 0 && config.standbys > 0 && config.changelog {
            standby = makeStandbyFollower(producer: producer)
        }
        guard dirLock >= 0 else {
            throw WorkerConfiguration.Invalid(
                description:
                    "the data directory \(config.dataDirectory) is held by a worker with standbys (it writes stores of partitions it does not own): give each worker a directory of its own"
            )
        }
        defer {
            standby?.stop()
            standby = nil
            close(dirLock)
        }
        dirLockedAlone = standby != nil
        removeStaleStoresAtStart(lock: dirLock)

        var options = ConsumerOptions(groupId: config.groupId)
        options.assignmentStrategy = [.range]  // co-partitioning: partition p of both inputs to one member
        options.sessionTimeout = .milliseconds(config.sessionTimeoutMs)
        options.heartbeatInterval = .milliseconds(config.heartbeatGroupIntervalMs)
        options.maxPollInterval = .milliseconds(config.maxPollIntervalMs)
        options.prefetchKiB = config.consumerPrefetchKiB
        if config.staticMembership { options.groupInstanceId = config.workerId }
        let consumer = try KafkaConsumer(
            config: kafka,
            options: options,
            onAssign: { [unowned self] tps in self.assign(tps) },
            onRevoke: { [unowned self] tps, lost in self.revoke(tps, lost: lost) },
            afterAssign: { [unowned self] tps in self.pauseInactive(tps) },
            logger: logger
        )
        self.consumer = consumer
        try consumer.subscribe(config.topics.inputs)
        logger.info(
            "worker started",
            metadata: ["agentcore.worker": "\(config.workerId)", "agentcore.partitions": "\(count)", "agentcore.brokers": "\(bootstrap)"]
        )

        var failure: (any Error)?
        do {
            while !stopRequested.load(ordering: .acquiring) {
                try step(consumer: consumer, producer: producer)
            }
            // Graceful: apply what is ready, publish, commit; leaving the group revokes
            // (and so publishes and closes) every lane.
            try processLanes(producer: producer, consumer: consumer)
        } catch {
            failure = error
        }
        leaveGroup(consumer)
        // Restores still running (leaving the group revokes and cancels them, unless it
        // failed) may be reading the group's committed offsets through this consumer.
        for lane in lanes.values { lane.restorer?.cancelAndWait() }
        consumer.close()
        self.consumer = nil
        for lane in lanes.values { closeStore(lane, persist: true) }
        lanes.removeAll()
        if let failure { throw failure }
        logger.info("worker stopped", metadata: ["agentcore.worker": "\(config.workerId)"])
    }

    /// Notes that the loop runs now. A gap since the last note longer than the producer's
    /// delivery bound (the session less two group heartbeats) means the whole process may
    /// have been stopped long enough for the group to give its partitions away (the loop
    /// alone being slow does not matter: librdkafka heartbeats from its own thread).
    private func noteRunning() {
        let now = DispatchTime.now().uptimeNanoseconds
        defer { lastRunningNanos = now }
        let limit = UInt64(config.producerDeliveryTimeoutMs) * 1_000_000
        guard lastRunningNanos != 0, now &- lastRunningNanos > limit, !stalledPastSession else { return }
        stalledPastSession = true
        logger.warning(
            "the worker did not run for \(String(format: "%.1f", Double(now &- lastRunningNanos) / 1e9)) s, about its group session (\(config.sessionTimeoutMs) ms): its partitions may be another worker's now; nothing is published until the group has answered"
        )
    }

    /// After a stall past the session: polls (buffering records, running rebalance
    /// callbacks) until librdkafka has had time to find its session expired, which it
    /// reports as a lost revoke (the lanes are dropped and their stores marked), then lets
    /// publishing go on for the partitions still held.
    private func confirmMembership(_ consumer: KafkaConsumer) throws {
        let wait = UInt64(max(1_500, 3 * config.heartbeatGroupIntervalMs)) * 1_000_000
        let deadline = DispatchTime.now().uptimeNanoseconds + wait
        while DispatchTime.now().uptimeNanoseconds < deadline, !consumer.assignmentLost {
            let batch = consumer.poll(maxRecords: config.batchSize, timeoutMs: 100)
            try intake(batch, consumer: consumer)
        }
        if consumer.assignmentLost {
            // The lost revoke comes with the next polls; until it has, nothing is published.
            let batch = consumer.poll(maxRecords: config.batchSize, timeoutMs: 100)
            try intake(batch, consumer: consumer)
            if consumer.assignmentLost { return }
        }
        stalledPastSession = false
        lastRunningNanos = DispatchTime.now().uptimeNanoseconds
        logger.info("the group has answered after the stall: \(lanes.count) partitions held, publishing goes on")
    }

    /// Unsubscribes and polls until the revoke has run and no assignment is pending, so that
    /// `close` never finds a rebalance half done (librdkafka 2.0.2 aborts the process with
    /// `rd_kafka_cgrp_terminated: assert: !rd_kafka_assignment_in_progress` then).
    private func leaveGroup(_ consumer: KafkaConsumer) {
        do { try consumer.unsubscribe() } catch {
            logger.warning("unsubscribe: \(error)")
            return
        }
        let deadline = DispatchTime.now().uptimeNanoseconds + 5_000_000_000
        var quietPolls = 0
        while DispatchTime.now().uptimeNanoseconds < deadline && quietPolls < 3 {
            let batch = consumer.poll(maxRecords: config.batchSize, timeoutMs: 100)
            let assigned = (try? consumer.assignment()) ?? []
            quietPolls = assigned.isEmpty && lanes.isEmpty && batch.records.isEmpty ? quietPolls + 1 : 0
        }
    }

    /// Input topics must exist with equal partition counts; returns the count.
    private func checkTopics(_ producer: KafkaProducer) throws -> Int {
        var counts: [String: Int] = [:]
        for t in config.topics.inputs {
            guard let n = try producer.partitionCount(topic: t) else {
                throw WorkerConfiguration.Invalid(description: "topic \(t) does not exist: run `agentcore topics create` first")
            }
            counts[t] = n
        }
        let c = counts[config.topics.commands]!
        let w = counts[config.topics.contextWrites]!
        if config.changelog {
            guard let l = try producer.partitionCount(topic: config.topics.changelog) else {
                throw WorkerConfiguration.Invalid(
                    description: "topic \(config.topics.changelog) does not exist: run `agentcore topics create` first"
                )
            }
            guard l == c else {
                throw WorkerConfiguration.Invalid(
                    description: "\(config.topics.changelog) has \(l) partitions but the input topics have \(c): it must be co-partitioned"
                )
            }
        }
        guard c == w else {
            throw WorkerConfiguration.Invalid(
                description:
                    "\(config.topics.commands) has \(c) partitions but \(config.topics.contextWrites) has \(w): input topics must be co-partitioned"
            )
        }
        // Learn the output topics now: a first record to a topic librdkafka has not seen
        // waits for a metadata refresh, and the whole publishing round with it.
        let outputs = OutputTopic.allCases.map(config.topics.output) + (config.changelog ? [config.topics.changelog] : [])
        for (topic, count) in try producer.register(topics: outputs) where count == nil {
            throw WorkerConfiguration.Invalid(description: "topic \(topic) does not exist: run `agentcore topics create` first")
        }
        return c
    }

    private func step(consumer: KafkaConsumer, producer: KafkaProducer) throws {
        if let f = rebalanceFailure { throw f }
        revokedThisPoll = []
        assignedThisPoll = []
        noteRunning()
        if stalledPastSession { try confirmMembership(consumer) }
        let anyBuffered = lanes.values.contains { $0.buffered > 0 }
        // Short waits while records are buffered, or while a backlog drains (an empty queue
        // then may be a stalled fetch: `wakeStalledFetch`).
        let busy = anyBuffered || DispatchTime.now().uptimeNanoseconds &- lastFullPollNanos < Self.backlogWindowNanos
        var batch = consumer.poll(maxRecords: config.batchSize, timeoutMs: busy ? 5 : 100)
        noteRunning()
        try intake(batch, consumer: consumer)
        if batch.records.isEmpty {
            wakeStalledFetch(consumer)
        } else {
            lastInputNanos = DispatchTime.now().uptimeNanoseconds
            if batch.records.count >= config.batchSize { lastFullPollNanos = lastInputNanos }
            if refetchPending {
                // Records came after a restart: the delay was long enough; try a shorter one.
                refetchPending = false
                refetchDelayNanos = max(Self.refetchAfterNanos, refetchDelayNanos / 2)
            }
        }
        // While a backlog drains, polls come back full: take more before applying, so that
        // batches stay large (one transaction and one publishing round serve them all),
        // up to a bound on what waits in memory. A rebalance ends the gathering.
        let bound = config.batchSize * max(1, activeLanes.count)
        var polls = 1
        while batch.records.count >= config.batchSize, polls < Self.maxPollsPerStep, assignedThisPoll.isEmpty,
            revokedThisPoll.isEmpty, lanes.values.reduce(0, { $0 + $1.buffered }) < bound
        {
            batch = consumer.poll(maxRecords: config.batchSize, timeoutMs: 0)
            try intake(batch, consumer: consumer)
            if batch.records.count >= config.batchSize { lastFullPollNanos = DispatchTime.now().uptimeNanoseconds }
            polls += 1
        }
        publishStates()  // a rebalance in these polls: readers stop using revoked stores now
        try processLanes(producer: producer, consumer: consumer)
        try heartbeatIfDue(producer: producer, consumer: consumer, now: DispatchTime.now().uptimeNanoseconds)
        removeStaleStoresIfDue(now: DispatchTime.now().uptimeNanoseconds)
        if let fatal = consumer.fatalError { throw fatal }
        publishStates()
        lastStepNanos.store(DispatchTime.now().uptimeNanoseconds, ordering: .releasing)
    }

    /// When input stopped arriving although the broker holds more for active partitions
    /// (their position below the high watermark last fetched), restarts their fetch: see
    /// `KafkaConsumer.refetch`. Only while a backlog drains (a full poll lately: a queue
    /// that filled up is what stops the fetcher), after `refetchDelayNanos` without records:
    /// 5 ms at first, doubled after a restart that brought nothing within it (up to 640 ms),
    /// halved after one that did.
    private func wakeStalledFetch(_ consumer: KafkaConsumer) {
        let now = DispatchTime.now().uptimeNanoseconds
        guard !paused, now &- lastFullPollNanos < Self.backlogWindowNanos, now &- lastInputNanos >= refetchDelayNanos,
            now &- lastRefetchNanos >= refetchDelayNanos
        else { return }
        let tps = activeLanes.flatMap { lane in config.topics.inputs.map { TopicPartition($0, lane.partition) } }
        guard !tps.isEmpty, let positions = try? consumer.positions(tps) else { return }
        let behind = positions.filter { p in
            p.offset >= 0 && (consumer.cachedWatermarks(p.topicPartition).map { $0.high > p.offset } ?? false)
        }
        guard !behind.isEmpty else { return }
        // No records since the last restart: its fetch took longer than the delay (a slow
        // network), so wait twice as long before cutting the next one short.
        if refetchPending { refetchDelayNanos = min(2 * refetchDelayNanos, Self.refetchAfterMaxNanos) }
        lastRefetchNanos = now
        refetchPending = true
        do {
            try consumer.refetch(behind)
            metrics.recordRefetch(partitions: behind.count)
            logger.debug("input stalled with records on the broker: fetching \(behind.count) partitions again")
        } catch {
            logger.warning("cannot restart fetching: \(error)")
        }
    }

    static let refetchAfterNanos: UInt64 = 5_000_000
    static let refetchAfterMaxNanos: UInt64 = 640_000_000
    /// A backlog is draining while a poll came back full within this.
    static let backlogWindowNanos: UInt64 = 640_000_000

    /// Copies each owned partition's state into `statusBox` when one changed (readers
    /// such as the HTTP API route by it).
    private func publishStates() {
        var states: [Int32: WorkerStatus.PartitionState] = [:]
        for (p, lane) in lanes {
            switch lane.lifecycle.state {
            case .active: states[p] = .active
            case .restoring: states[p] = .restoring
            case .failed: states[p] = .failed
            }
        }
        guard states != publishedStates else { return }
        publishedStates = states
        statusBox.withLock { $0.states = states }
        lastHeartbeatNanos = 0  // tell the cluster (read routing) at the next chance
    }

    /// Sorts one poll's records into their lanes.
    private func intake(_ batch: ConsumerBatch, consumer: KafkaConsumer) throws {
        if let f = rebalanceFailure { throw f }
        for e in batch.events {
            if case .error(let err) = e {
                if err.isFatal { throw err }
                logger.warning("consumer: \(err)")
            }
        }
        let now = DispatchTime.now().uptimeNanoseconds
        // A rebalance inside this poll: records of revoked partitions are not ours; records
        // of partitions assigned in it may predate the assignment, so they are dropped and
        // the partition is rewound to the first of them (nothing is skipped).
        var rewind: [TopicPartition: Int64] = [:]
        // Topic-partitions fetched again from a later offset: the rest of their records in
        // this batch come again.
        var refetch: [TopicPartition: Int64] = [:]
        for r in batch.records {
            guard let stream = config.topics.stream(of: r.topic) else { continue }
            if refetch[r.topicPartition] != nil { continue }
            if assignedThisPoll.contains(r.partition) {
                rewind[r.topicPartition] = min(rewind[r.topicPartition] ?? Int64.max, r.offset)
                continue
            }
            guard !revokedThisPoll.contains(r.partition), let lane = lanes[r.partition], lane.isActive else { continue }
            switch lane.noteOffset(topic: r.topic, offset: r.offset) {
            case .inOrder: break
            case .gap(let gap):
                logger.warning("records \(gap) of \(r.topic)[\(r.partition)] are no longer in Kafka (retention?) and were never applied")
            case .fetchedBeforeSeek(let next):
                logger.info(
                    "\(r.topic)[\(r.partition)] offset \(r.offset) is behind the partition (fetched before its input was positioned?): not applied; fetching again from \(next)"
                )
                refetch[r.topicPartition] = next
                continue
            case .behindStore(let applied):
                // The input went backwards (topic recreated, cluster replaced): never skip
                // acknowledged records silently. Stop the partition unless told to start it
                // over on the new topic.
                if config.acceptRewoundInput {
                    logger.warning(
                        "\(r.topic)[\(r.partition)] offset \(r.offset) is at or below the store's applied offset \(applied) (topic recreated?): --accept-rewound-input is set, so partition \(r.partition) starts over on this topic from offset \(r.offset), keeping its state (commands seen before are answered as repeats)"
                    )
                    do { try lane.store.resetInputOffset(topic: r.topic) } catch {
                        failLane(lane, error, consumer: consumer)
                        continue
                    }
                    lane.restartSeen(topic: r.topic, at: r.offset)
                } else {
                    failLane(
                        lane,
                        RewoundInput(
                            description:
                                "\(r.topic)[\(r.partition)] offset \(r.offset) is at or below the store's applied offset \(applied): the topic was recreated or the cluster replaced. No record is skipped: the partition is stopped. To start it over on the new topic (keeping its state), restart the worker with --accept-rewound-input (AGENTCORE_ACCEPT_REWOUND_INPUT=1)"
                        ),
                        consumer: consumer,
                        retry: false
                    )
                    continue
                }
            }
            lane.enqueue(
                InputRecord(
                    stream: stream,
                    topic: r.topic,
                    partition: r.partition,
                    offset: r.offset,
                    timestampMillis: r.timestamp,
                    key: r.key,
                    value: r.value,
                    headers: r.headers.map { RecordHeader(key: $0.key, value: $0.value) }
                ),
                now: now
            )
        }
        if !rewind.isEmpty {
            try consumer.seek(rewind.map { TopicPartitionOffset($0.key, offset: $0.value) })
        }
        if !refetch.isEmpty {
            try consumer.seek(refetch.map { TopicPartitionOffset($0.key, offset: $0.value) })
        }
        // After the records: a partition resumed here seeks its input, and records of it
        // already in this batch were fetched before that seek (they are dropped above
        // while it is not active).
        try checkRestores(consumer: consumer)
    }

    /// Applies what is ready in every lane, publishes all outboxes, commits offsets.
    private func processLanes(producer: KafkaProducer, consumer: KafkaConsumer) throws {
        let now = DispatchTime.now().uptimeNanoseconds
        var applied: [PartitionLane] = []
        for lane in activeLanes {
            let p = lane.partition
            let ready = lane.takeReady(
                max: config.batchSize * 2,
                now: now,
                maxWaitNanos: UInt64(config.mergeWaitMs) * 1_000_000,
                caughtUp: { [self] stream in self.caughtUp(consumer, partition: p, stream: stream) }
            )
            guard !ready.isEmpty else { continue }
            let summary: ApplySummary
            let t0 = DispatchTime.now().uptimeNanoseconds
            do { summary = try lane.store.apply(ready) } catch {
                // The batch rolled back; the partition goes out of service alone.
                failLane(lane, error, consumer: consumer)
                continue
            }
            if let change = lane.store.takeSettingsChange() {
                logger.warning(
                    "partition \(p) was applied with other settings until now: \(change.from); from here on: \(change.to). Workers sharing partitions must run the same settings."
                )
            }
            lane.appliedCount += ready.count
            applied.append(lane)
            metrics.recordBatch(partition: p, summary: summary, nanos: DispatchTime.now().uptimeNanoseconds &- t0)
            statusBox.withLock {
                $0.applied += summary.applied
                $0.rejected += summary.rejected
                $0.deadLettered += summary.deadLettered
                $0.skipped += summary.skipped
            }
        }
        try publish(activeLanes, producer: producer, consumer: consumer)
        // Group offsets are for lag visibility only (the stores' own offsets decide where a
        // partition resumes): committed at most once a second, not once per step.
        if !applied.isEmpty { uncommitted.formUnion(applied.map(\.partition)) }
        let end = DispatchTime.now().uptimeNanoseconds
        if !uncommitted.isEmpty, end &- lastCommitNanos >= 1_000_000_000 {
            commit(uncommitted.sorted().compactMap { lanes[$0] }.filter(\.isActive), consumer: consumer)
            uncommitted.removeAll()
            lastCommitNanos = end
        }
    }

    /// A stream of partition p is caught up when the records handed to us reached the high
    /// watermark of the last fetch response: librdkafka's queue holds nothing more of it
    /// (its records come from responses that carried that watermark or a lower one). A full
    /// poll says nothing about this partition: treating it as "maybe more" held every record
    /// of the busy stream for the whole merge wait while a backlog drained, tens of MB.
    private func caughtUp(_ consumer: KafkaConsumer, partition: Int32, stream: CommandStream) -> Bool {
        let tp = TopicPartition(config.topics.input(stream), partition)
        guard let w = consumer.cachedWatermarks(tp), let lane = lanes[partition] else { return false }
        return (lane.nextOffset(topic: tp.topic) ?? w.low) >= w.high
    }

    /// A publishing round whose records are queued in librdkafka: which results rows it
    /// covers and whether any delivery failed. Kept across loop iterations when a flush
    /// times out, so the same rows are never queued twice while the first copies are in
    /// flight (they are acknowledged once librdkafka reports them delivered).
    final class PublishRound: Sendable {
        /// Per partition, the results rows the round sent (see `ResultsSent`).
        let results: [Int32: ResultsSent]
        let count: Int
        let recent: [OutboxRecord]
        let failed = Failures()
        /// Per partition, the changelog unit sent in this round (see `ChangelogUnit`).
        let changelog: Mutex<[Int32: ChangelogUnit]> = Mutex([:])
        /// When its records were queued (uptime nanoseconds), for the round's timing.
        let startedNanos = DispatchTime.now().uptimeNanoseconds
        /// Its records' deliveries (failures reach `failed`); released when the round ends.
        let deliveries: KafkaProducer.DeliveryGroup

        /// What went wrong in a round: a count and the first error.
        final class Failures: Sendable {
            let count = Atomic<Int>(0)
            let first = Mutex<KafkaError?>(nil)

            func record(_ e: KafkaError) {
                count.add(1, ordering: .relaxed)
                first.withLock { if $0 == nil { $0 = e } }
            }
        }

        /// A partition's results rows in a round: up to which `seq`, read from which store
        /// under which epoch of the lane. They are acknowledged in that store under that
        /// epoch only: a round awaited after its partition was lost and assigned again, or
        /// its store rebuilt or restored anew, acknowledges nothing there (results may be
        /// numbered anew).
        struct ResultsSent: Sendable, Equatable {
            var through: Int64
            var store: UInt64
            var epoch: Int64

            init(through: Int64, from lane: PartitionLane) {
                self.through = through
                store = lane.store.instance
                epoch = lane.epoch
            }

            /// `through`, if `lane` still has the store and epoch the rows were read under.
            func through(in lane: PartitionLane) -> Int64? {
                lane.store.instance == store && lane.epoch == epoch ? through : nil
            }
        }

        init(results: [Int32: ResultsSent], count: Int, recent: [OutboxRecord], producer: KafkaProducer) {
            self.results = results
            self.count = count
            self.recent = recent
            deliveries = producer.makeDeliveryGroup { [failed] e in failed.record(e) }
        }

        func fail(_ e: KafkaError) { failed.record(e) }
        var failures: Int { failed.count.load(ordering: .relaxed) }
    }

    /// Produces every lane's unpublished results and waits for the acknowledgements; then
    /// marks them published. On failure the rows stay and are sent again later (same ids).
    ///
    /// A lane's changelog unit goes out at most every `changelogIntervalMs` (its changes
    /// gather in `changelog_dirty` meanwhile, and a row changed several times is sent once),
    /// unless `forceChangelog` (partitions leaving: the next owner must find every change
    /// and acknowledgement in the changelog).
    private func publish(
        _ lanes: [PartitionLane],
        producer: KafkaProducer,
        consumer: KafkaConsumer,
        forceChangelog: Bool = false
    ) throws {
        // A process stopped past its group session (SIGSTOP, a frozen VM) is a zombie until
        // the group says otherwise: it publishes nothing (no event, no changelog row that
        // could land after the new owner's claim) until `confirmMembership` has run.
        noteRunning()
        if stalledPastSession { return }
        if let round = inflight {
            // An earlier round timed out: wait for its records instead of queueing them again.
            do { try producer.flush(timeoutMs: Int32(config.publishTimeoutMs)) } catch {
                logger.warning("\(producer.outstanding) records still in flight: \(error)")
                try pauseIfBacklogged(consumer: consumer)
                return
            }
            inflight = nil
            try finish(round, consumer: consumer)
        }
        var results: [Int32: PublishRound.ResultsSent] = [:]
        var recent: [OutboxRecord] = []
        var planned: [(PartitionLane, [OutboxRow])] = []
        var count = 0
        for lane in lanes {
            let rows: [OutboxRow]
            do {
                guard try lane.store.outboxDepth() > 0 else { continue }
                rows = try lane.store.unpublishedRows(limit: max(Self.outboxRowsPerRound, 2 * config.batchSize))
            } catch {
                failLane(lane, error, consumer: consumer)
                continue
            }
            guard let last = rows.last else { continue }
            planned.append((lane, rows))
            results[lane.partition] = PublishRound.ResultsSent(through: last.seq, from: lane)
            count += rows.reduce(0) { $0 + $1.count }
            recent.append(contentsOf: rows.suffix(3).flatMap(\.records).suffix(3))
        }
        let now = DispatchTime.now().uptimeNanoseconds
        let interval = UInt64(config.changelogIntervalMs) * 1_000_000
        let changelogLanes =
            config.changelog
            ? lanes.filter { lane in
                guard lane.isActive, forceChangelog || now &- lane.lastChangelogNanos >= interval else { return false }
                do { return try lane.changelogDue() } catch {
                    failLane(lane, error, consumer: consumer)
                    return false
                }
            } : []
        guard !planned.isEmpty || !changelogLanes.isEmpty else {
            setPaused(false, consumer: consumer)
            return
        }
        let round = PublishRound(results: results, count: count, recent: recent, producer: producer)
        let topics = Dictionary(uniqueKeysWithValues: OutputTopic.allCases.map { ($0, config.topics.output($0)) })
        for (_, rows) in planned {
            for row in rows {
                row.forEachRecord { topic, key, value, id in
                    do throws(KafkaError) {
                        try producer.produce(
                            topic: topics[topic]!,
                            key: key,
                            value: value,
                            header: (Self.eventIdHeader, id),
                            group: round.deliveries
                        )
                    } catch {
                        round.fail(error)  // not queued; the row is sent again in a later round
                    }
                }
            }
        }
        // A stop in the middle of this round: its changelog rows wait for the group.
        noteRunning()
        for lane in changelogLanes where !stalledPastSession {
            do { try publishChangelog(lane, round: round, producer: producer) } catch {
                round.fail(.invalidArgument("changelog of partition \(lane.partition) not read: \(error)"))
                failLane(lane, error, consumer: consumer)
            }
        }
        do {
            try producer.flush(timeoutMs: Int32(config.publishTimeoutMs))
        } catch {
            logger.warning("publishing timed out after \(config.publishTimeoutMs) ms: \(error); waiting for it")
            inflight = round
            try pauseIfBacklogged(consumer: consumer)
            return
        }
        try finish(round, consumer: consumer)
    }

    /// Marks a completed round published, or leaves its rows for the next round.
    private func finish(_ round: PublishRound, consumer: KafkaConsumer) throws {
        producer?.release(round.deliveries)  // flushed: every delivery was reported
        if round.failures == 0 {
            acknowledge(round, consumer: consumer)
            metrics.recordPublishRound(events: round.count, nanos: DispatchTime.now().uptimeNanoseconds &- round.startedNanos)
            statusBox.withLock {
                $0.published += round.count
                $0.recentOutputs = Array(($0.recentOutputs + round.recent).suffix(20))
            }
            setPaused(false, consumer: consumer)
        } else {
            if let e = round.failed.first.withLock({ $0 }) { logger.warning("publishing failed: \(e); will retry") }
            try pauseIfBacklogged(consumer: consumer)
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    private func pauseIfBacklogged(consumer: KafkaConsumer) throws {
        let depth = activeLanes.map { (try? $0.store.outboxDepth()) ?? 0 }.max() ?? 0
        if depth > config.maxOutboxDepth { setPaused(true, consumer: consumer) }
    }

    /// Pauses consumption while the producer cannot keep up, so memory stays bounded.
    private func setPaused(_ pause: Bool, consumer: KafkaConsumer) {
        guard pause != paused else { return }
        // Restoring and failed partitions stay paused whatever the backlog.
        let tps = activeLanes.flatMap { lane in config.topics.inputs.map { TopicPartition($0, lane.partition) } }
        do {
            if pause { try consumer.pause(tps) } else { try consumer.resume(tps) }
            paused = pause
            statusBox.withLock { $0.paused = pause }
            logger.warning(pause ? "consumption paused: outbox above \(config.maxOutboxDepth)" : "consumption resumed")
        } catch {
            logger.error("pause/resume failed: \(error)")
        }
    }

    /// Commits the stores' positions to the group, for lag visibility only: on assignment
    /// the store's own offsets decide where to resume.
    /// Synchronous when partitions are leaving: librdkafka 2.0.2 asserts
    /// (`rd_kafka_cgrp_terminated: !rd_kafka_assignment_in_progress`) if the consumer closes
    /// while an asynchronous commit is still outstanding.
    private func commit(_ lanes: [PartitionLane], consumer: KafkaConsumer, async: Bool = true) {
        do { try consumer.commit(committedOffsets(lanes), async: async) } catch { logger.debug("offset commit: \(error)") }
    }

    /// The offsets to commit for `lanes`. With the changelog, each carries the lane's claim
    /// as its metadata (`GroupClaim`; a restore takes the newest of the input topics'); a
    /// lane that has not claimed yet commits none, so that the previous owner's record stays.
    func committedOffsets(_ lanes: [PartitionLane]) -> [TopicPartitionOffset] {
        var offsets: [TopicPartitionOffset] = []
        for lane in lanes {
            if config.changelog && lane.groupClaim == nil { continue }
            for t in config.topics.inputs {
                guard let next = lane.store.resumeOffset(topic: t) else { continue }
                offsets.append(TopicPartitionOffset(TopicPartition(t, lane.partition), offset: next, metadata: lane.groupClaim?.metadata))
            }
        }
        return offsets
    }

    /// A short line about an outbox row for `WorkerStatus.recentEvents`.
    static func summary(_ row: OutboxRecord) -> String {
        if let e = try? Event(bytes: row.value) {
            let p = e.payload
            let subject = [
                p["instance_id"]?.stringValue, p["name"]?.stringValue, p["version"]?.intValue.map { "v\($0)" },
                p["to"]?.stringValue.map { "→ \($0)" }, p["code"]?.stringValue, p["slug"]?.stringValue,
            ]
            .compactMap { $0 }.joined(separator: " ")
            return "\(e.type.rawValue) \(e.workspaceId)/\(e.projectId ?? "-") \(subject)"
        }
        let reason = (try? JSONParser.parse(row.value))?["reason"]?.stringValue ?? "?"
        return "dead-letter \(reason) \(row.eventId)"
    }

    // MARK: rebalance (runs inside poll, on the loop thread)

    private func assign(_ tps: [TopicPartition]) -> [TopicPartitionOffset] {
        assignedThisPoll.formUnion(tps.map(\.partition))
        metrics.recordRebalance("assigned")
        lastHeartbeatNanos = 0  // tell the cluster at once who owns what now
        statusBox.withLock { $0.joinedGroup = true }
        // The stores share the cache budget (an eager assignment names every partition).
        storeOptions.cacheSizeKiB = config.storeCacheKiB(owning: Set(tps.map(\.partition)).union(lanes.keys).count)
        var opened: [PartitionLane] = []
        for p in Set(tps.map(\.partition)).sorted() where lanes[p] == nil {
            standby?.release(p)  // its warm copy becomes the owner's store
            do {
                let lane = PartitionLane(
                    partition: p,
                    store: try openStore(p),
                    lifecycle: PartitionLifecycle(baseRetryMs: config.restoreRetryMs)
                )
                // The first time this process opens a store, its restore checks the file
                // (about 0.1 s per 200 MiB, docs/operations.md); later rebalances do not.
                if checkedPartitions.insert(p).inserted { lane.store.suspectDamage = true }
                lanes[p] = lane
                opened.append(lane)
            } catch {
                logger.error("cannot open store \(storePath(p)): \(error)")
                rebalanceFailure = error
            }
        }
        if paused, let consumer {
            paused = false
            setPaused(true, consumer: consumer)
        }
        let starts = tps.map { tp in
            TopicPartitionOffset(tp, offset: lanes[tp.partition]?.store.resumeOffset(topic: tp.topic) ?? TopicPartitionOffset.beginning)
        }
        // From here the restore threads own the new lanes' stores (their input is paused
        // right after the assignment, see `pauseInactive`).
        if config.changelog { for lane in opened { startRestore(lane) } }
        updateStandbys()
        return starts
    }

    private func revoke(_ tps: [TopicPartition], lost: Bool) {
        let parts = Set(tps.map(\.partition)).sorted()
        metrics.recordRebalance(lost ? "lost" : "revoked")
        lastHeartbeatNanos = 0
        for lane in parts.compactMap({ lanes[$0] }) {
            // A restore in progress stops between chunks; the next owner resumes it.
            lane.restorer?.cancelAndWait()
        }
        let leaving = parts.compactMap { lanes[$0] }.filter(\.isActive)
        if !lost, let producer, let consumer {
            // Finish: publish what the lanes applied, so the next owner starts clean; the
            // second round's changelog marker records the first round's acknowledgements,
            // so the next owner publishes none of those events again.
            do {
                try publish(leaving, producer: producer, consumer: consumer, forceChangelog: true)
                try publish(leaving, producer: producer, consumer: consumer, forceChangelog: true)
            } catch {
                logger.warning("publishing before revoke failed: \(error); the next owner publishes it")
            }
            commit(leaving, consumer: consumer, async: false)
        }
        if lost {
            // Another worker may already own these partitions and have voided what this one
            // wrote since: the next time, the store is rebuilt, not trusted.
            for lane in leaving {
                do { try lane.store.markLostOwnership() } catch {
                    logger.error("partition \(lane.partition): cannot record the lost ownership (\(error)); moving the store aside")
                    lane.store.close()
                    _ = try? PartitionStore.moveAside(path: storePath(lane.partition))
                }
            }
        }
        for p in parts { if let lane = lanes[p] { closeStore(lane, persist: !lost) } }
        for p in parts {
            lanes[p] = nil
            revokedThisPoll.insert(p)
        }
        updateStandbys()
    }
}
