import AgentCoreClient
import AgentCoreKafka
import AgentCoreModel
import AgentCoreStore
import AgentCoreWorker
import ArgumentParser
import Foundation
import Logging

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks (figures, not tests): the store alone, and the whole pipeline on the embedded cluster.",
        discussion:
            "scripts/bench.sh runs them beside their baselines (a SQLite floor, and the team's pipeline harness when it is checked out next to the repository) and prints ratios; docs/benchmarks.md has the figures.",
        subcommands: [Store.self, Pipeline.self, Kafka.self, Restore.self, Recovery.self, Client.self, Agents.self]
    )

    static let sharedFiller = String(repeating: "x", count: 400 - 24)

    /// `context.write` of about `bytes` bytes of data.
    /// An embedded cluster with the topics and one worker running on it (stores in `dir`,
    /// emptied first).
    static func embeddedWorker(
        partitions: Int,
        dir: String,
        logger: Logger,
        adjust: (inout WorkerConfiguration) -> Void = { _ in }
    ) throws -> (EmbeddedCluster, Worker, Task<Void, any Error>) {
        try? FileManager.default.removeItem(atPath: dir)
        let cluster = try EmbeddedCluster(brokers: 1, logger: logger)
        var c = WorkerConfiguration()
        try TopicSetup.create(on: cluster, topics: c.topics, partitions: partitions)
        c.applyEmbeddedDefaults()
        c.workerId = "bench"
        c.dataDirectory = dir
        c.partitions = partitions
        c.store.maxConcurrency = 1_000
        adjust(&c)
        let worker = Worker(configuration: c, bootstrap: cluster.bootstrapServers, logger: logger)
        return (cluster, worker, Task { try await worker.runLoop() })
    }

    /// A client configuration for the embedded cluster: short lingers and fetch waits, so
    /// round trips measure agentcore, not librdkafka's batching delays.
    static func clientConfig(_ cluster: EmbeddedCluster) -> KafkaConfig {
        var kafka = KafkaConfig(bootstrapServers: cluster.bootstrapServers)
        kafka.properties["linger.ms"] = "2"
        kafka.properties["fetch.wait.max.ms"] = "10"
        return kafka
    }

    static func write(_ s: Commands, instance: String, context: String, bytes: Int, seq: Int) -> CommandEnvelope {
        // One filler string shared by every command (the load generator competes with the
        // worker for the same cores; it should not spend them building strings).
        let filler = bytes - 24 == sharedFiller.count ? sharedFiller : String(repeating: "x", count: max(0, bytes - 24))
        return s.writeContext(instanceId: instance, name: context, data: ["seq": .int(Int64(seq)), "blob": .string(filler)], id: "b\(seq)")
    }

    struct Store: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "context.write commands applied per second by one store, in batches, decoded from bytes."
        )
        @Option(help: "Timed writes.") var writes = 200_000
        @Option(help: "Distinct contexts (each created before timing starts).") var contexts = 1_000
        @Option(help: "Records per apply (one transaction).") var batch = 1_000
        @Option(help: "Bytes of data per write.") var bytes = 400
        @Option(help: "History limit (versions kept per context).") var historyLimit = 50
        @Option(help: "Directory for the store file.") var dir = "."
        @Flag(inversion: .prefixedNo, help: "Apply with a helper thread per batch (StoreOptions.helperThreads).")
        var helperThreads = true
        @Flag(inversion: .prefixedNo, help: "Note changed rows for the changelog (StoreOptions.changelog).")
        var changelog = true
        @Option(help: "WAL pages at which a batch waits for a full checkpoint (StoreOptions.walLimitFrames).")
        var walLimitFrames: Int32 = StoreOptions().walLimitFrames
        @Option(help: "SQLite page cache, KiB (StoreOptions.cacheSizeKiB).") var cacheKib = StoreOptions().cacheSizeKiB
        @Option(help: "SQLite memory map, MiB (StoreOptions.mmapSizeBytes).") var mmapMib = Int(StoreOptions().mmapSizeBytes >> 20)
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let path = (dir as NSString).appendingPathComponent("bench-store-\(getpid()).sqlite")
            defer { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } }
            var options = StoreOptions()
            options.historyLimit = historyLimit
            options.maxConcurrency = 1_000
            options.helperThreads = helperThreads
            options.changelog = changelog
            options.walLimitFrames = walLimitFrames
            options.cacheSizeKiB = cacheKib
            options.mmapSizeBytes = Int64(mmapMib) << 20
            options.checkpointStepFrames = min(options.checkpointStepFrames, max(1, walLimitFrames / 4))
            let store = try PartitionStore(path: path, partition: 0, options: options)
            defer { store.close() }
            var feed = BenchFeed()
            try feed.setUp(store, contexts: contexts, bytes: bytes, batch: batch)
            // Records are built before timing; apply decodes, validates and writes them.
            let timed = feed.randomWrites(writes, contexts: contexts, bytes: bytes, batch: batch)
            let t0 = DispatchTime.now().uptimeNanoseconds
            let cpu0 = threadCPUSeconds()
            let process0 = processCPUSeconds()
            for b in timed {
                try store.apply(b)
                try store.acknowledgeOutbox(through: Int64.max)
            }
            // CPU time of the applying thread (the rest of the wall time it waited for its
            // helper or for a core) and of the whole process: work per write, which a busy
            // neighbour on the host disturbs less than it disturbs the rate.
            let busy = threadCPUSeconds() - cpu0
            let processCPU = processCPUSeconds() - process0
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            let rate = Double(writes) / seconds
            let busyShare = String(format: "%.2f", busy / seconds)
            let applyMicros = String(format: "%.2f", busy * 1e6 / Double(writes))
            let processMicros = String(format: "%.2f", processCPU * 1e6 / Double(writes))
            if json {
                print(
                    #"{"bench":"store","writes":\#(writes),"contexts":\#(contexts),"batch":\#(batch),"bytes":\#(bytes),"history_limit":\#(historyLimit),"writes_per_second":\#(Int(rate)),"apply_thread_busy":\#(busyShare),"apply_thread_cpu_us_per_write":\#(applyMicros),"process_cpu_us_per_write":\#(processMicros)}"#
                )
            } else {
                print(
                    "store: \(writes) context.write, batch \(batch), \(contexts) contexts, \(bytes) B data, history \(historyLimit): \(Int(rate)) writes/s; CPU per write: applying thread \(applyMicros) µs (on CPU \(busyShare) of the time), process \(processMicros) µs"
                )
            }
        }
    }

    struct Pipeline: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "context.write commands through the embedded cluster and one worker, first poll to last event published."
        )
        @Option(help: "Commands.") var commands = 200_000
        @Option(help: "Partitions.") var partitions = 8
        @Option(help: "Bytes of data per write.") var bytes = 400
        @Option(help: "Most commands produced but not yet applied (the mock keeps ~5 MiB per partition).")
        var maxBacklog = 40_000
        @Option(help: "Worker batch size.") var batchSize = 1_000
        @Option(help: "Directory for the stores.") var dir = "./data/bench"
        @Flag(inversion: .prefixedNo, help: "Publish the changelog (off: what it costs).") var changelog = true
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            let logger = logging.bootstrap(default: .warning)
            let (cluster, worker, loop) = try BenchCommand.embeddedWorker(partitions: partitions, dir: dir, logger: logger) { c in
                c.batchSize = batchSize
                c.changelog = changelog
                c.store.changelog = changelog
            }
            var kafka = KafkaConfig(bootstrapServers: cluster.bootstrapServers)
            kafka.properties["linger.ms"] = "5"
            kafka.properties["compression.type"] = "lz4"
            kafka.properties["batch.num.messages"] = "10000"
            let producer = try AgentCoreProducer(config: kafka, logger: logger)
            // 64 workspaces spread over the partitions, 4 instances each.
            let workspaces = (0..<64).map { Commands(workspace: "bench-\($0)", project: "p", actor: "bench") }
            try await producer.enqueue(workspaces[0].registerDefinition(slug: "bench", name: "Bench", agentType: "bench"))
            for w in workspaces { for i in 0..<4 { try producer.enqueue(w.spawn(definition: "bench", name: "i\(i)", instanceId: "i\(i)")) { _ in } } }
            try producer.flush()
            let setup = 1 + 64 * 4
            func done() -> Int {
                let s = worker.status
                return s.applied + s.rejected + s.deadLettered
            }
            while done() < setup { try await Task.sleep(for: .milliseconds(20)) }
            var sent = 0
            let t0 = DispatchTime.now().uptimeNanoseconds
            while sent < commands {
                if sent - (done() - setup) >= maxBacklog {
                    try await Task.sleep(for: .milliseconds(2))
                    continue
                }
                let w = workspaces[sent % 64]
                try producer.enqueue(BenchCommand.write(w, instance: "i\(sent % 4)", context: "c\(sent % 16)", bytes: bytes, seq: sent)) { _ in }
                sent += 1
            }
            try producer.flush()
            let target = setup + commands
            while done() < target || worker.status.published < target { try await Task.sleep(for: .milliseconds(5)) }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            let s = worker.status
            worker.stop()
            try await loop.value
            producer.close()
            let rate = Double(commands) / seconds
            if json {
                print(
                    #"{"bench":"pipeline","changelog":\#(changelog),"commands":\#(commands),"partitions":\#(partitions),"bytes":\#(bytes),"batch":\#(batchSize),"commands_per_second":\#(Int(rate)),"rejected":\#(s.rejected),"dead_lettered":\#(s.deadLettered)}"#
                )
            } else {
                print(
                    "pipeline\(changelog ? "" : " (changelog off)"): \(commands) context.write of \(bytes) B, \(partitions) partitions, 1 worker, batch \(batchSize): \(Int(rate)) commands/s (\(String(format: "%.1f", seconds)) s; rejected \(s.rejected), dead-lettered \(s.deadLettered))"
                )
            }
            withExtendedLifetime(cluster) {}
        }
    }
}

extension BenchCommand {
    struct Kafka: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Produce and consume throughput through the embedded cluster (consuming while producing)."
        )
        @Option(help: "Records.") var records = 500_000
        @Option(help: "Bytes per record value.") var size = 500
        @Option(help: "Partitions.") var partitions = 8
        @Option(help: "Most records produced but not yet consumed (the mock keeps ~5 MiB per partition).")
        var maxBacklog = 50_000
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            var logger = Logger(label: "bench")
            logger.logLevel = .warning
            let cluster = try EmbeddedCluster(brokers: 1, logger: logger)
            let topic = "bench-\(getpid())"
            try cluster.createTopic(topic, partitions: partitions)
            var config = KafkaConfig(bootstrapServers: cluster.bootstrapServers)
            config.properties["fetch.wait.max.ms"] = "10"
            var producerConfig = config
            producerConfig.properties["linger.ms"] = "5"
            producerConfig.properties["batch.num.messages"] = "10000"
            let producer = try KafkaProducer(config: producerConfig, logger: logger)
            var options = ConsumerOptions(groupId: "bench-\(getpid())")
            options.sessionTimeout = .seconds(6)
            options.heartbeatInterval = .milliseconds(500)
            let consumer = try KafkaConsumer(config: config, options: options, logger: logger)
            try consumer.subscribe([topic])
            while ((try? consumer.assignment()) ?? []).isEmpty { _ = consumer.poll(maxRecords: 1, timeoutMs: 100) }
            let consumed = Locked(0)
            let consumerDone = Locked<UInt64>(0)
            let target = records
            let thread = Thread {
                while consumed.get < target {
                    let n = consumer.poll(maxRecords: 5_000, timeoutMs: 100).records.count
                    consumed.withLock { $0 += n }
                }
                consumerDone.withLock { $0 = DispatchTime.now().uptimeNanoseconds }
            }
            let value = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let t0 = DispatchTime.now().uptimeNanoseconds
            thread.start()
            var sent = 0
            while sent < records {
                if sent - consumed.get >= maxBacklog {
                    rd_yield()
                    continue
                }
                try producer.produce(topic: topic, key: Array("k\(sent % 1000)".utf8), value: value) { _ in }
                sent += 1
            }
            try producer.flush(timeoutMs: 60_000)
            let t1 = DispatchTime.now().uptimeNanoseconds
            while consumerDone.get == 0 { try await Task.sleep(for: .milliseconds(5)) }
            let produceSecs = Double(t1 - t0) / 1e9
            let consumeSecs = Double(consumerDone.get - t0) / 1e9
            let mb = Double(records * size) / 1_048_576
            producer.close()
            consumer.close()
            if json {
                print(
                    #"{"bench":"kafka","records":\#(records),"size":\#(size),"partitions":\#(partitions),"produce_records_per_second":\#(Int(Double(records) / produceSecs)),"consume_records_per_second":\#(Int(Double(records) / consumeSecs)),"produce_mb_per_second":\#(String(format: "%.1f", mb / produceSecs)),"consume_mb_per_second":\#(String(format: "%.1f", mb / consumeSecs))}"#
                )
            } else {
                print("kafka: \(records) records of \(size) B, \(partitions) partitions, consuming while producing:")
                print("  produce \(Int(Double(records) / produceSecs)) records/s, \(String(format: "%.1f", mb / produceSecs)) MB/s")
                print("  consume \(Int(Double(records) / consumeSecs)) records/s, \(String(format: "%.1f", mb / consumeSecs)) MB/s")
            }
            withExtendedLifetime(cluster) {}
        }
    }
}

func rd_yield() { usleep(200) }

/// CPU time (user and system) of the whole process, in seconds.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// CPU time of the calling thread, in seconds.
func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
