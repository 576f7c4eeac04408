import AgentCoreClient
import AgentCoreKafka
import AgentCoreModel
import AgentCoreStore
import CoreMetrics
import Foundation
import Logging
import Testing

@testable import AgentCoreWorker

/// An embedded cluster with agentcore's topics, in-process workers and a client.
final class WorkerHarness: @unchecked Sendable {
    let cluster: EmbeddedCluster
    let topics: TopicNames
    let dataDir: String
    let partitions: Int
    var workers: [(Worker, WorkerRun)] = []

    init(partitions: Int = 4, prefix: String? = nil) throws {
        cluster = try EmbeddedCluster(brokers: 1)
        topics = TopicNames(prefix: prefix ?? "t\(UUID().uuidString.prefix(6).lowercased())")
        self.partitions = partitions
        try TopicSetup.create(on: cluster, topics: topics, partitions: partitions)
        dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("agentcore-w-\(UUID().uuidString)").path
    }

    deinit { try? FileManager.default.removeItem(atPath: dataDir) }

    var kafka: KafkaConfig {
        var c = KafkaConfig(bootstrapServers: cluster.bootstrapServers)
        c.properties["fetch.wait.max.ms"] = "10"
        c.properties["linger.ms"] = "2"
        return c
    }

    func configuration(id: String) -> WorkerConfiguration {
        var c = WorkerConfiguration()
        c.applyEmbeddedDefaults()
        c.workerId = id
        c.groupId = "\(topics.prefix)-workers"
        c.dataDirectory = dataDir
        c.topics = topics
        c.partitions = partitions
        c.heartbeatIntervalMs = 500
        c.mergeWaitMs = 100
        return c
    }

    @discardableResult
    func startWorker(
        _ id: String = "w1",
        metrics: any MetricsFactory = NOOPMetricsHandler.instance,
        adjust: (inout WorkerConfiguration) -> Void = { _ in }
    ) -> Worker {
        var c = configuration(id: id)
        adjust(&c)
        var logger = Logger(label: "test.worker.\(id)")
        logger.logLevel = .warning
        let w = Worker(configuration: c, bootstrap: cluster.bootstrapServers, logger: logger, metrics: metrics)
        workers.append((w, WorkerRun(w)))
        return w
    }

    func stopAll() async throws {
        for (w, _) in workers { w.stop() }
        for (_, t) in workers { try await t.value() }
        workers.removeAll()
    }

    func client() throws -> AgentCoreClient { try AgentCoreClient(config: kafka, topicPrefix: topics.prefix) }

    func reader(_ topics: [String]) throws -> EventStream {
        try EventStream(
            config: kafka,
            topics: topics,
            consumerOptions: { o in
                o.sessionTimeout = .seconds(6)
                o.heartbeatInterval = .milliseconds(500)
            }
        )
    }

    /// Raw records of a topic from the beginning until `until` holds or time runs out (read
    /// on a thread of its own: see `offPool`).
    func readRaw(_ topic: String, seconds: Double = 60, until: @escaping @Sendable ([KafkaRecord]) -> Bool) async throws -> [KafkaRecord] {
        try await offPool { [self] in try readRawBlocking(topic, seconds: seconds, until: until) }
    }

    private func readRawBlocking(_ topic: String, seconds: Double, until: ([KafkaRecord]) -> Bool) throws -> [KafkaRecord] {
        var o = ConsumerOptions(groupId: "raw-\(UUID().uuidString)")
        o.sessionTimeout = .seconds(6)
        o.heartbeatInterval = .milliseconds(500)
        let c = try KafkaConsumer(config: kafka, options: o)
        defer { c.close() }
        try c.subscribe([topic])
        var all: [KafkaRecord] = []
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline && !until(all) { all += c.poll(maxRecords: 1000, timeoutMs: 100).records }
        return all
    }

    /// The claims the workers' group records per partition (`GroupClaim`, in the committed
    /// offsets' metadata of the input topics).
    func groupClaims() throws -> [Int32: GroupClaim] {
        let c = try KafkaConsumer(config: kafka, options: ConsumerOptions(groupId: configuration(id: "x").groupId))
        defer { c.close() }
        var out: [Int32: GroupClaim] = [:]
        for p in 0..<Int32(partitions) {
            out[p] = GroupClaim.newest(try c.committed(topics.inputs.map { TopicPartition($0, p) }).map(\.metadata))
        }
        return out
    }

    /// Opens every partition's store (read side) after the workers stopped.
    func dump() throws -> String { try dump(in: dataDir) }

    func dump(in dir: String) throws -> String {
        var out = ""
        for p in 0..<partitions {
            let path = (dir as NSString).appendingPathComponent("partition-\(p).sqlite")
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let s = try PartitionStore(path: path, partition: Int32(p))
            out += try s.canonicalDump()
            s.close()
        }
        return out
    }

    func store(for workspace: String) throws -> PartitionStore {
        let p = Murmur2.partition(forKey: workspace, partitionCount: Int32(partitions))
        return try PartitionStore(path: (dataDir as NSString).appendingPathComponent("partition-\(p).sqlite"), partition: p)
    }
}

/// Runs blocking test work (Kafka polls for up to minutes) on a thread of its own and
/// awaits it, so that it holds none of Swift's cooperative pool (two threads here), which
/// other suites' async work (HTTP servers, clients) needs meanwhile.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { c in
        let thread = Thread { c.resume(with: Result { try body() }) }
        thread.start()
    }
}

/// Polls `condition` every 0.1 s until it holds or `seconds` pass. Sleeps with
/// `Task.sleep`: the wait leaves Swift's cooperative pool (two threads on two cores) to
/// the other suites running meanwhile, whose async work (an HTTP server, a client) would
/// otherwise stall behind it.
func eventually(seconds: Double = 60, _ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return try condition()
}

/// A worker's loop started on its own thread right away (not from a `Task`, which a test
/// blocking the cooperative pool's few threads could keep from ever starting it).
final class WorkerRun: Sendable {
    private let result = Locked<Result<Void, any Error>?>(nil)

    init(_ w: Worker) {
        w.start { [result] r in result.withLock { $0 = r } }
    }

    var isFinished: Bool { result.get != nil }

    func value() async throws {
        while true {
            if let r = result.get { return try r.get() }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// A tmpfs of a given size mounted on a new directory (tests run as root), unmounted and
/// removed on deinit: a disk that fills up.
final class Tmpfs {
    let path: String

    init(path: String, megabytes: Int) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard try Self.mount(["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", path]) == 0 else {
            throw CLIMissing(message: "cannot mount a tmpfs on \(path)")
        }
    }

    /// Grows (or shrinks) the filesystem in place.
    func resize(megabytes: Int) throws -> Bool { try Self.mount(["-o", "remount,size=\(megabytes)m", path]) == 0 }

    /// MiB in use now (rounded up).
    func usedMegabytes() throws -> Int {
        let a = try FileManager.default.attributesOfFileSystem(forPath: path)
        let size = (a[.systemSize] as? NSNumber)?.int64Value ?? 0
        let free = (a[.systemFreeSize] as? NSNumber)?.int64Value ?? 0
        return Int((size - free + (1 << 20) - 1) >> 20)
    }

    deinit {
        _ = try? Self.run("/bin/umount", [path])
        try? FileManager.default.removeItem(atPath: path)
    }

    static func mount(_ args: [String]) throws -> Int32 { try run("/bin/mount", args) }

    static func run(_ tool: String, _ args: [String]) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }
}

/// A task executor on a thread of its own, for tests whose async work must not wait for
/// Swift's cooperative pool: on 2 cores the pool has two threads, and the multi-process
/// suites block them for seconds at a time (paced producers, process waits) while they run
/// beside. `withTaskExecutorPreference(TestExecutor.shared)` moves a test body, and the
/// child tasks it starts, here.
final class TestExecutor: TaskExecutor, @unchecked Sendable {
    static let shared = TestExecutor(name: "agentcore-test-executor")
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    private init(name: String) {
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let j = UnownedJob(job)
        condition.lock()
        jobs.append(j)
        condition.signal()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let j = jobs.removeFirst()
            condition.unlock()
            j.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
