import AgentCoreKafka
import AgentCoreWorker
import ArgumentParser
import Foundation
import Logging

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run one worker: a consumer-group member that applies commands to its partitions' stores.",
        discussion: """
            Every option also reads an environment variable (AGENTCORE_*, see README); a flag wins. \
            With no brokers at all the worker starts an embedded cluster in-process. \
            SIGTERM or SIGINT: stop polling, finish and publish the batch, commit, leave the \
            group, exit 0 (exit 1 if that takes longer than --shutdown-timeout-ms).
            """)

    @Option(help: "Bootstrap servers. Default: $AGENTCORE_BROKERS; none: an in-process embedded cluster.")
    var brokers: String?
    @Option(help: "Consumer group. Default: $AGENTCORE_GROUP or agentcore.") var group: String?
    @Option(help: "Worker id (heartbeats, static membership). Default: $AGENTCORE_WORKER_ID or the host name.")
    var workerId: String?
    @Option(help: "Directory of the partition stores. Default: $AGENTCORE_DATA_DIR or ./data.") var dataDir: String?
    @Option(help: "Topic name prefix. Default: $AGENTCORE_TOPIC_PREFIX or agentcore.") var topicPrefix: String?
    @Option(help: "Partitions for topics this worker creates. Default: $AGENTCORE_PARTITIONS or 12.") var partitions: Int?
    @Option(help: "Versions kept per context. Default: $AGENTCORE_HISTORY_LIMIT or 50.") var historyLimit: Int?
    @Option(help: "Instances per workspace that are not offline. Default: $AGENTCORE_MAX_CONCURRENCY or 20.")
    var maxConcurrency: Int?
    @Option(help: "Worker heartbeat interval. Default: $AGENTCORE_HEARTBEAT_INTERVAL_MS or 5000.") var heartbeatIntervalMs: Int?
    @Option(help: "Instance liveness timeout in stream time. Default: $AGENTCORE_INSTANCE_TIMEOUT_MS or 60000.")
    var instanceTimeoutMs: Int?
    @Option(help: "Most records per poll. Default: $AGENTCORE_BATCH_SIZE or 1000.") var batchSize: Int?
    @Option(help: "Bound on graceful shutdown. Default: $AGENTCORE_SHUTDOWN_TIMEOUT_MS or 30000.") var shutdownTimeoutMs: Int?
    @Option(help: "SQLite page cache for all partition stores together, MiB. Default: $AGENTCORE_STORE_CACHE_MIB or 16.")
    var storeCacheMib: Int?
    @Option(help: "SQLite memory map per partition store, MiB (0: off). Default: $AGENTCORE_STORE_MMAP_MIB or 0.")
    var storeMmapMib: Int?
    @Flag(help: "Create the topics if they are missing.") var createTopics = false
    @Flag(help: "Group timings for librdkafka's mock cluster (agentcore broker): fast rebalances.") var mockBroker = false
    @Flag(help: "Static group membership with the worker id as group.instance.id.") var staticMembership = false
    @Flag(
        help:
            "When a partition's input offsets fall below what its store applied (topic recreated, cluster replaced), start it over on the new topic, keeping its state. Default: $AGENTCORE_ACCEPT_REWOUND_INPUT or off (the partition stops)."
    )
    var acceptRewoundInput = false
    @Flag(
        help: ArgumentHelp(
            "Neither publish the changelog nor restore stores from it (benchmarks only: stores then live only on this disk).",
            visibility: .hidden))
    var noChangelog = false
    @Option(name: .customShort("X"), help: ArgumentHelp("librdkafka property key=value (repeatable).", valueName: "key=value"))
    var kafkaProperties: [String] = []
    @OptionGroup var logging: LoggingOptions

    func configuration() throws -> WorkerConfiguration {
        var c: WorkerConfiguration
        do { c = try WorkerConfiguration.fromEnvironment() } catch { throw CLIError(error.description) }
        if let v = brokers { c.brokers = v }
        if let v = group { c.groupId = v }
        if let v = workerId { c.workerId = v }
        if let v = dataDir { c.dataDirectory = v }
        if let v = topicPrefix { c.topics = TopicNames(prefix: v) }
        if let v = partitions { c.partitions = v }
        if let v = historyLimit { c.store.historyLimit = v }
        if let v = maxConcurrency { c.store.maxConcurrency = v }
        if let v = heartbeatIntervalMs { c.heartbeatIntervalMs = v }
        if let v = instanceTimeoutMs { c.store.instanceTimeoutMillis = Int64(v) }
        if let v = batchSize { c.batchSize = v }
        if let v = shutdownTimeoutMs { c.shutdownTimeoutMs = v }
        if let v = storeCacheMib { c.storeCacheBudgetMiB = v }
        if let v = storeMmapMib { c.store.mmapSizeBytes = Int64(v) << 20 }
        if staticMembership { c.staticMembership = true }
        if acceptRewoundInput { c.acceptRewoundInput = true }
        if noChangelog {
            c.changelog = false
            c.store.changelog = false
        }
        for (k, v) in try parseProperties(kafkaProperties) { c.kafkaProperties[k] = v }
        if mockBroker || c.brokers == nil { c.applyEmbeddedDefaults() }
        do { try c.validate() } catch { throw CLIError(error.description) }
        return c
    }

    func run() async throws {
        let logger = logging.bootstrap()
        let config = try configuration()
        var cluster: EmbeddedCluster?
        let bootstrap: String
        if let b = config.brokers {
            bootstrap = b
            if createTopics {
                try TopicSetup.create(
                    brokers: config.kafkaConfig(bootstrap: b), topics: config.topics, partitions: config.partitions,
                    replicationFactor: config.replicationFactor, logger: logger)
            }
        } else {
            let c = try EmbeddedCluster(brokers: 1, logger: logger)
            try TopicSetup.create(on: c, topics: config.topics, partitions: config.partitions)
            cluster = c
            bootstrap = c.bootstrapServers
            logger.info("no brokers given: embedded cluster at \(bootstrap)")
        }
        let worker = Worker(configuration: config, bootstrap: bootstrap, logger: logger)
        try await runUntilSignal(worker, shutdownTimeoutMs: config.shutdownTimeoutMs, logger: logger)
        withExtendedLifetime(cluster) {}
    }
}

/// Runs a worker until it fails or a signal asks it to stop; enforces the shutdown bound.
func runUntilSignal(_ worker: Worker, shutdownTimeoutMs: Int, logger: Logger) async throws {
    let loop = Task { try await worker.runLoop() }
    let signals = Task {
        let s = await Signals.wait()
        logger.info("signal \(s): shutting down (bound \(shutdownTimeoutMs) ms)")
        worker.stop()
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(shutdownTimeoutMs)) {
            logger.critical("shutdown exceeded \(shutdownTimeoutMs) ms; exiting")
            exit(1)
        }
    }
    do {
        try await loop.value
    } catch {
        throw CLIError("worker stopped: \(error)")
    }
    signals.cancel()
}

