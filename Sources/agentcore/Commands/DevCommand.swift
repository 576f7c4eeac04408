import AgentCoreClient
import AgentCoreHTTP
import AgentCoreKafka
import AgentCoreModel
import AgentCoreWorker
import ArgumentParser
import Foundation
import Logging
import Prometheus
import ServiceLifecycle

struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Everything in one process: an embedded Kafka cluster, the topics, N workers and a demo load.",
        discussion: """
            Prints a live summary (commands applied per second, partitions per worker, recent \
            events) until Ctrl-C, then shuts down cleanly. The brokers listen on 127.0.0.1:<port>, \
            so `agentcore tail`, `agentcore send` and kcat can watch from another terminal.
            """
    )

    @Option(help: "Workers in the consumer group.") var workers = 2
    @Option(help: "Partitions of the input topics.") var partitions = 4
    @Option(help: "Demo commands per second (0: no demo load).") var rate = 100
    @Option(help: "Directory of the partition stores (wiped at start unless --keep-data).") var dataDir = "./data/dev"
    @Flag(help: "Keep existing stores in --data-dir.") var keepData = false
    @Option(help: "First broker port (0: any free port).") var port = BrokerCommand.defaultPort
    @Option(help: "Stop by itself after this many seconds.") var duration: Double?
    @Option(help: "Seconds between summaries.") var interval: Double = 2
    @Option(help: "HTTP port of the first worker (the next ones count up; 0: any free port; -1: no HTTP).")
    var httpPort = 8080
    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let logger = logging.bootstrap(default: .warning)
        if !keepData { try? FileManager.default.removeItem(atPath: dataDir) }
        let cluster: EmbeddedCluster
        do {
            cluster = try EmbeddedCluster(brokers: 1, firstPort: port == 0 ? nil : port, logger: logger)
        } catch {
            logger.warning("port \(port) unavailable (\(error.message)); using a free port")
            cluster = try EmbeddedCluster(brokers: 1, logger: logger)
        }
        let topics = TopicNames()
        try TopicSetup.create(on: cluster, topics: topics, partitions: partitions)
        say("embedded Kafka at \(cluster.bootstrapServers); topics \(topics.prefix).* with \(partitions) partitions")
        say("stores in \(dataDir)/<worker>; watch from another terminal: agentcore tail --brokers \(cluster.bootstrapServers)")

        let stopFlag = OnceFlag()
        let stop: @Sendable () -> Bool = { stopFlag.isFired }
        let failure = Locked<(any Error)?>(nil)
        var started: [(Worker, Task<Void, Never>)] = []
        var servers: [(AgentCoreHTTPServer, (ServiceGroup, Task<Void, Never>))] = []
        for i in 1...max(1, workers) {
            var c = WorkerConfiguration()
            c.applyEmbeddedDefaults()
            c.workerId = "dev-\(i)"
            // A data directory per worker, as in production: a partition that moves is
            // restored from the changelog on its new worker.
            c.dataDirectory = (dataDir as NSString).appendingPathComponent(c.workerId)
            c.partitions = partitions
            c.heartbeatIntervalMs = 1_000
            var http: HTTPOptions?
            if httpPort >= 0 {
                var o = HTTPOptions()
                o.port = httpPort == 0 ? 0 : httpPort + i - 1
                http = o  // the server advertises the address it bound
            }
            let registry = PrometheusCollectorRegistry()
            let workerLogger = logger.with("agentcore.worker", c.workerId)
            let w = Worker(
                configuration: c,
                bootstrap: cluster.bootstrapServers,
                logger: workerLogger,
                metrics: PrometheusMetricsFactory(registry: registry)
            )
            if let http {
                let server = AgentCoreHTTPServer(
                    worker: w,
                    bootstrap: cluster.bootstrapServers,
                    options: http,
                    registry: registry,
                    logger: workerLogger
                )
                let group = ServiceGroup(services: [server], logger: workerLogger)
                let task = Task {
                    do { try await group.run() } catch {
                        workerLogger.warning("HTTP on port \(http.port) did not start: \(error)")
                    }
                }
                servers.append((server, (group, task)))
            }
            started.append(
                (
                    w,
                    Task {
                        do { try await w.runLoop() } catch {
                            failure.withLock { $0 = $0 ?? error }
                            _ = stopFlag.fire()
                        }
                    }
                )
            )
        }
        say("\(started.count) worker(s) joining group \"agentcore\" (the first join takes a few seconds)…")
        if let (server, _) = servers.first {
            for _ in 0..<50 where server.port == nil { try await Task.sleep(for: .milliseconds(100)) }
            if let port = server.port {
                let url = "http://127.0.0.1:\(port)"
                say("web console: \(url)/  (read API \(url)/v1/…, metrics \(url)/metrics; every worker serves one)")
            }
        }

        let signals = Task {
            _ = await Signals.wait()
            _ = stopFlag.fire()
        }
        var kafka = KafkaConfig(bootstrapServers: cluster.bootstrapServers)
        kafka.properties["linger.ms"] = "5"
        let producer = try AgentCoreProducer(config: kafka, logger: logger)
        let demo = DemoLoad(producer: producer, commandsTopic: topics.commands, contextWritesTopic: topics.contextWrites)
        let load = Task {
            guard rate > 0 else { return }
            try await demo.setUp()
            try await Task.sleep(for: .milliseconds(300))
            try await demo.run(rate: rate, until: stop)
        }

        let begin = Date()
        var last = (at: begin, applied: 0)
        while !stop() {
            try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
            if let duration, Date().timeIntervalSince(begin) >= duration { _ = stopFlag.fire() }
            let statuses = started.map { $0.0.status }
            let applied = statuses.reduce(0) { $0 + $1.applied + $1.rejected + $1.deadLettered }
            let now = Date()
            let perSecond = Double(applied - last.applied) / now.timeIntervalSince(last.at)
            last = (now, applied)
            let secs = Int(now.timeIntervalSince(begin))
            say(
                "[\(secs)s] sent \(demo.sent)  processed \(applied) (\(Int(perSecond))/s)  rejected \(statuses.reduce(0) { $0 + $1.rejected })"
                    + "  dead-lettered \(statuses.reduce(0) { $0 + $1.deadLettered })  published \(statuses.reduce(0) { $0 + $1.published })"
            )
            for s in statuses {
                let parts = s.partitions.map { "\($0.partition)" }.joined(separator: ",")
                let lag = s.partitions.reduce(0) { $0 + $1.lag }
                say("    \(s.workerId): partitions [\(parts)] lag \(lag)\(s.paused ? " PAUSED" : "")")
            }
            let recent = statuses.flatMap(\.recentEvents).suffix(4)
            for e in recent { say("    · \(e)") }
        }
        say("stopping: finishing batches, publishing, leaving the group…")
        load.cancel()
        _ = try? await load.value
        try? producer.flush(timeoutMs: 5_000)
        producer.close(timeoutMs: 0)
        for (w, _) in started { w.stop() }
        for (_, t) in started { await t.value }
        for (_, (g, _)) in servers { await g.triggerGracefulShutdown() }
        for (_, (_, t)) in servers { await t.value }
        signals.cancel()
        withExtendedLifetime(cluster) {}
        if let error = failure.get { throw CLIError("a worker failed: \(error)") }
        say("stopped cleanly; stores kept in \(dataDir)/dev-N (agentcore inspect dump --data-dir \(dataDir)/dev-1)")
    }

    func say(_ s: String) {
        print(s)
        fflush(nil)
    }
}

extension Logger {
    func with(_ key: String, _ value: String) -> Logger {
        var l = self
        l[metadataKey: key] = "\(value)"
        return l
    }
}
