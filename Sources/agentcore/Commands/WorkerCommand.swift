import AgentCoreHTTP
import AgentCoreKafka
import AgentCoreWorker
import ArgumentParser
import Foundation
import Logging
import Prometheus
import ServiceLifecycle

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run one worker: a consumer-group member that applies commands to its partitions' stores.",
        discussion: """
            Every option also reads an environment variable (AGENTCORE_*, see README); a flag wins. \
            With no brokers at all the worker starts an embedded cluster in-process. \
            SIGTERM or SIGINT: stop polling, finish and publish the batch, commit, leave the \
            group, exit 0 (exit 1 if that takes longer than --shutdown-timeout-ms).
            """
    )

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
    @Option(help: "Most records per poll. Default: $AGENTCORE_BATCH_SIZE or 500.") var batchSize: Int?
    @Option(help: "Bound on graceful shutdown. Default: $AGENTCORE_SHUTDOWN_TIMEOUT_MS or 30000.") var shutdownTimeoutMs: Int?
    @Option(help: "SQLite page cache for all partition stores together, MiB. Default: $AGENTCORE_STORE_CACHE_MIB or 8.")
    var storeCacheMib: Int?
    @Option(help: "SQLite memory map per partition store, MiB (0: off). Default: $AGENTCORE_STORE_MMAP_MIB or 0.")
    var storeMmapMib: Int?
    @Option(
        help:
            "Warm copies of this many partitions per owned one, kept by following the changelog, for fast takeovers (0: none). Default: $AGENTCORE_STANDBYS or 0."
    )
    var standbys: Int?
    @Option(
        help:
            "Rebuild a local store or standby copy from the changelog when it was last in step with it longer ago than this many hours, instead of bringing it forward (keep below the changelog's delete.retention.ms; 0: no limit). Default: $AGENTCORE_LOCAL_STORE_MAX_AGE_HOURS or 12."
    )
    var localStoreMaxAgeHours: Int?
    @Option(
        help:
            "Most often a partition publishes its changelog, ms: changes gather meanwhile and a row changed several times is sent once (0: every publishing round). Default: $AGENTCORE_CHANGELOG_INTERVAL_MS or 100."
    )
    var changelogIntervalMs: Int?
    @Flag(help: "Create the topics if they are missing.") var createTopics = false
    @Flag(help: "Group timings for librdkafka's mock cluster (agentcore broker): fast rebalances.") var mockBroker = false
    @Flag(help: "Static group membership with the worker id as group.instance.id.") var staticMembership = false
    @Option(
        help:
            "Consumer group session timeout, ms: how long a worker that stopped answering keeps its partitions (failure detection; the broker's group.min.session.timeout.ms bounds it). Default: $AGENTCORE_SESSION_TIMEOUT_MS, 6000 with --mock-broker, else 45000."
    )
    var sessionTimeoutMs: Int?
    @Option(
        help:
            "Consumer group heartbeat interval, ms (well below the session timeout). Default: $AGENTCORE_GROUP_HEARTBEAT_MS, 500 with --mock-broker, else 3000."
    )
    var groupHeartbeatMs: Int?
    @Flag(
        help:
            "When a partition's input offsets fall below what its store applied (topic recreated, cluster replaced), start it over on the new topic, keeping its state. Default: $AGENTCORE_ACCEPT_REWOUND_INPUT or off (the partition stops)."
    )
    var acceptRewoundInput = false
    @Flag(
        help: ArgumentHelp(
            "Neither publish the changelog nor restore stores from it (benchmarks only: stores then live only on this disk).",
            visibility: .hidden
        )
    )
    var noChangelog = false
    @Option(name: .customShort("X"), help: ArgumentHelp("librdkafka property key=value (repeatable).", valueName: "key=value"))
    var kafkaProperties: [String] = []
    @OptionGroup var http: HTTPServerOptions
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
        if let v = standbys { c.standbys = v }
        if let v = localStoreMaxAgeHours { c.localStoreMaxAgeHours = v }
        if let v = changelogIntervalMs { c.changelogIntervalMs = v }
        if staticMembership { c.staticMembership = true }
        if acceptRewoundInput { c.acceptRewoundInput = true }
        if noChangelog {
            c.changelog = false
            c.store.changelog = false
        }
        for (k, v) in try parseProperties(kafkaProperties) { c.kafkaProperties[k] = v }
        if mockBroker || c.brokers == nil { c.applyEmbeddedDefaults() }
        if let v = sessionTimeoutMs { c.sessionTimeoutMs = v }
        if let v = groupHeartbeatMs { c.heartbeatGroupIntervalMs = v }
        do { try c.validate() } catch { throw CLIError(error.description) }
        return c
    }

    func run() async throws {
        let logger = logging.bootstrap()
        MemoryTuning.fixMmapThreshold()
        var config = try configuration()
        config.httpURL = try http.advertisedURL()
        var cluster: EmbeddedCluster?
        let bootstrap: String
        if let b = config.brokers {
            bootstrap = b
            if createTopics {
                try TopicSetup.create(
                    brokers: config.kafkaConfig(bootstrap: b),
                    topics: config.topics,
                    partitions: config.partitions,
                    replicationFactor: config.replicationFactor,
                    logger: logger
                )
            }
        } else {
            let c = try EmbeddedCluster(brokers: 1, logger: logger)
            try TopicSetup.create(on: c, topics: config.topics, partitions: config.partitions)
            cluster = c
            bootstrap = c.bootstrapServers
            logger.info("no brokers given: embedded cluster at \(bootstrap)")
        }
        let registry = PrometheusCollectorRegistry()
        let worker = Worker(
            configuration: config,
            bootstrap: bootstrap,
            logger: logger,
            metrics: PrometheusMetricsFactory(registry: registry)
        )
        let server = try http.options().map {
            AgentCoreHTTPServer(worker: worker, bootstrap: bootstrap, options: $0, registry: registry, logger: logger)
        }
        try await runWorkerServices(worker, http: server, shutdownTimeoutMs: config.shutdownTimeoutMs, logger: logger)
        withExtendedLifetime(cluster) {}
    }
}

/// Runs the worker and its HTTP server in one `ServiceGroup`: SIGTERM, SIGINT and SIGHUP
/// shut both down gracefully; the worker finishing or failing ends the group. A shutdown
/// that overruns `shutdownTimeoutMs` exits with status 1.
func runWorkerServices(_ worker: Worker, http: AgentCoreHTTPServer?, shutdownTimeoutMs: Int, logger: Logger) async throws {
    // A group shuts its services down one at a time, last first: the bound starts its
    // clock, then the worker finishes its batch and leaves the group, then HTTP stops.
    var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
    if let http {
        services.append(.init(service: http, successTerminationBehavior: .ignore, failureTerminationBehavior: .gracefullyShutdownGroup))
    }
    services += [
        .init(service: worker, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
        .init(service: ShutdownBound(milliseconds: shutdownTimeoutMs, logger: logger), successTerminationBehavior: .ignore),
    ]
    var config = ServiceGroupConfiguration(services: services, logger: logger)
    config.gracefulShutdownSignals = [.sigterm, .sigint, .sighup]
    config.maximumGracefulShutdownDuration = .milliseconds(shutdownTimeoutMs)
    do {
        try await ServiceGroup(configuration: config).run()
    } catch {
        throw CLIError("worker stopped: \(error)")
    }
}

/// Bounds a graceful shutdown: once one starts, the process exits with status 1 if it is
/// still running after the bound (a worker loop blocked in a broker call, say).
struct ShutdownBound: Service {
    let milliseconds: Int
    let logger: Logger

    func run() async throws {
        // Cancelled instead (the group's own bound ran out): the clock starts all the same.
        try? await gracefulShutdown()
        logger.info("shutting down (bound \(milliseconds) ms)")
        let (milliseconds, logger) = (milliseconds, logger)
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(milliseconds)) {
            logger.critical("shutdown exceeded \(milliseconds) ms; exiting")
            exit(1)
        }
    }
}

/// The worker's HTTP server options (docs/http-api.md).
struct HTTPServerOptions: ParsableArguments {
    @Option(
        help: "HTTP address host:port (read API, console, /metrics, /healthz, /readyz); off: none. Default: $AGENTCORE_HTTP_ADDR or 127.0.0.1:8080."
    )
    var httpAddr: String?
    @Option(help: "Bearer token required on /v1/*. Default: $AGENTCORE_HTTP_TOKEN; none: open.")
    var httpToken: String?
    @Option(
        help:
            "URL other workers reach this one's HTTP at (forwarded reads). Default: $AGENTCORE_HTTP_ADVERTISE, else http://<host>:<port> (the host name for 0.0.0.0)."
    )
    var httpAdvertise: String?

    private var env: [String: String] { ProcessInfo.processInfo.environment }

    /// nil when HTTP is off.
    func options() throws -> HTTPOptions? {
        let addr = httpAddr ?? env[EnvironmentKeys.httpAddr].flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1:8080"
        if addr == "off" { return nil }
        var o: HTTPOptions
        do { o = try HTTPOptions(address: addr) } catch { throw CLIError("\(error)") }
        o.token = httpToken ?? env[EnvironmentKeys.httpToken].flatMap { $0.isEmpty ? nil : $0 }
        return o
    }

    /// The URL given to advertise; nil: the server advertises what it bound, once bound.
    func advertisedURL() throws -> String? {
        httpAdvertise ?? env[EnvironmentKeys.httpAdvertise].flatMap({ $0.isEmpty ? nil : $0 })
    }
}
