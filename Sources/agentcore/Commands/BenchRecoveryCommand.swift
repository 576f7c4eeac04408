import AgentCoreClient
import AgentCoreKafka
import AgentCoreModel
import AgentCoreWorker
import ArgumentParser
import Foundation
import Logging

extension BenchCommand {
    /// Takeover after SIGKILL, with 0 and with 1 standby, same run: two `agentcore worker`
    /// processes on separate data directories, contexts written to every partition, one
    /// worker killed; the time until each of its partitions answers a command again.
    struct Recovery: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Takeover time after SIGKILL (kill → the partition answering again) with 0 and 1 standbys, same run."
        )
        @Option(help: "Contexts written before the kill (the embedded broker keeps about 5 MiB of changelog per partition).")
        var contexts = 10_000
        @Option(help: "Partitions.") var partitions = 4
        @Option(help: "Standby settings to compare, comma-separated.") var standbys = "0,1"
        @Option(help: "The workers' group session timeout, ms (failure detection); default: the --mock-broker timings (6000).")
        var sessionTimeoutMs: Int?
        @Option(help: "Directory for the stores and worker logs.") var dir = "./data/bench-recovery"
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            let logger = logging.bootstrap(default: .warning)
            var results: [JSONValue] = []
            for s in standbys.split(separator: ",").compactMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) {
                results.append(try await measure(standbys: s, logger: logger))
            }
            let out = JSONValue.object([
                "bench": "recovery", "contexts": .int(Int64(contexts)), "partitions": .int(Int64(partitions)), "runs": .array(results),
            ])
            if json {
                print(out.canonicalString)
            } else {
                for r in results { print(r.canonicalString) }
            }
        }

        func measure(standbys: Int, logger: Logger) async throws -> JSONValue {
            let base = (dir as NSString).appendingPathComponent("standbys-\(standbys)")
            try? FileManager.default.removeItem(atPath: base)
            try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
            let cluster = try EmbeddedCluster(brokers: 1, logger: logger)
            let topics = TopicNames()
            try TopicSetup.create(on: cluster, topics: topics, partitions: partitions)
            let workers = try ["w1", "w2"].map { id in
                try BenchProcess(
                    id: id,
                    log: (base as NSString).appendingPathComponent("\(id).log"),
                    arguments: [
                        "worker", "--brokers", cluster.bootstrapServers, "--mock-broker", "--data-dir",
                        (base as NSString).appendingPathComponent(id), "--worker-id", id, "--group", "bench-recovery",
                        "--standbys", String(standbys), "--http-addr", "off", "--log-level", "info",
                    ] + (sessionTimeoutMs.map { ["--session-timeout-ms", String($0), "--group-heartbeat-ms", String(max(100, $0 / 10))] } ?? [])
                )
            }
            defer { for w in workers { w.terminate() } }
            for w in workers { try w.waitForLog("assigned", seconds: 60) }

            // One workspace per partition, one instance each; the contexts spread over them.
            // Short fetch waits: the mock broker holds a fetch for `fetch.wait.max.ms` even
            // when records arrive meanwhile, which added up to 0.5 s to every answer seen.
            let kafka = BenchCommand.clientConfig(cluster)
            let client = try AgentCoreClient(config: kafka, logger: logger)
            defer { client.close() }
            var home: [Int32: Commands] = [:]
            var n = 0
            while home.count < partitions {
                let ws = "recovery-\(n)"
                n += 1
                let p = Murmur2.partition(forKey: ws, partitionCount: Int32(partitions))
                if home[p] == nil { home[p] = Commands(workspace: ws, project: "p", actor: "bench") }
            }
            let answered = AgentCoreClient.answered(by: [.instanceSpawned, .instanceHeartbeat])
            _ = try await client.enqueueAndWait(home[0]!.registerDefinition(slug: "bench", name: "Bench", agentType: "bench"))
            for c in home.values { _ = try await client.enqueueAndWait(c.spawn(definition: "bench", name: "i", instanceId: "i"), until: answered) }
            let filler = String(repeating: "x", count: 150)
            let failures = Locked(0)
            for i in 0..<contexts {
                let c = home[Int32(i % partitions)]!
                try client.producer.enqueue(c.writeContext(instanceId: "i", name: "c\(i)", data: ["i": .int(Int64(i)), "f": .string(filler)])) { r in
                    if case .failure = r { failures.withLock { $0 += 1 } }
                }
            }
            // Every partition has applied everything once its heartbeat (sent last) is answered.
            for c in home.values { _ = try await client.enqueueAndWait(c.heartbeat(instanceId: "i"), timeout: .seconds(120), until: answered) }
            try await Task.sleep(for: .seconds(3))  // standby passes catch up (one per second)

            let victim = workers[1]
            let survivor = workers[0]
            let theirs = victim.ownedPartitions()
            let assignedBefore = survivor.output.components(separatedBy: "assigned").count
            let restoredBefore = survivor.restoreLines().count
            let t0 = ContinuousClock.now
            @Sendable func since() -> Double {
                let d = ContinuousClock.now - t0
                return ((Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18) * 100).rounded() / 100
            }
            victim.kill()
            // The survivor's log, read every 20 ms: when the group gave it the partitions
            // (failure detected) and when their restores ended.
            let watch = Task.detached { () -> (assigned: Double, restored: Double) in
                var assigned = -1.0
                while !Task.isCancelled {
                    let out = survivor.output
                    if assigned < 0 && out.components(separatedBy: "assigned").count > assignedBefore { assigned = since() }
                    if survivor.restoreLines().count >= restoredBefore + theirs.count { return (assigned, since()) }
                    try? await Task.sleep(for: .milliseconds(20))
                }
                return (assigned, -1)
            }
            // A probe per partition every 100 ms, each waiting up to 10 s: the first answer
            // marks the partition back (a probe that waited is answered as soon as the
            // partition applies again, so the figure is not rounded to a probe's timeout).
            let answeredAt = Locked<[Int32: Double]>([:])
            var probes: [Task<Void, Never>] = []
            while answeredAt.withLock({ $0.count }) < theirs.count, ContinuousClock.now - t0 < .seconds(180) {
                for p in theirs where answeredAt.withLock({ $0[p] == nil }) {
                    let command = home[p]!.heartbeat(instanceId: "i")
                    probes.append(
                        Task {
                            if (try? await client.enqueueAndWait(command, timeout: .seconds(10), until: answered)) != nil {
                                let at = since()
                                answeredAt.withLock { if $0[p] == nil { $0[p] = at } }
                            }
                        }
                    )
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
            for t in probes { t.cancel() }
            let back = answeredAt.withLock { $0 }
            let marks = await watch.value
            let restores = survivor.restoreLines().suffix(theirs.count)
            return .object([
                "standbys": .int(Int64(standbys)),
                "takeover_seconds": .double(back.values.max() ?? -1),
                "reassigned_after_seconds": .double(marks.assigned), "restored_after_seconds": .double(marks.restored),
                "partitions_taken_over": .array(theirs.sorted().map { .int(Int64($0)) }),
                "restores": .array(restores.map { .object(["partition": .int(Int64($0.partition)), "line": .string($0.line)]) }),
                "session_timeout_ms": .int(Int64(sessionTimeoutMs ?? 6_000)), "write_failures": .int(Int64(failures.withLock { $0 })),
            ])
        }
    }
}

/// A child `agentcore` process of a benchmark, its output in a log file.
final class BenchProcess: @unchecked Sendable {
    let id: String
    let process = Process()
    let log: String

    init(id: String, log: String, arguments: [String]) throws {
        self.id = id
        self.log = log
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    func waitForLog(_ text: String, seconds: Double) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !output.contains(text) {
            guard Date() < deadline, process.isRunning else { throw CLIError("\(id) did not log '\(text)': \(output.suffix(2_000))") }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    /// Input partitions of the last assignment the worker logged.
    func ownedPartitions() -> Set<Int32> {
        guard let line = output.split(separator: "\n").last(where: { $0.contains("assigned") && $0.contains(".commands[") }) else { return [] }
        var out = Set<Int32>()
        for part in line.components(separatedBy: ".commands[").dropFirst() {
            if let p = Int32(part.prefix { $0.isNumber }) { out.insert(p) }
        }
        return out
    }

    /// "partition N restored (...)" lines.
    func restoreLines() -> [(partition: Int32, line: String)] {
        output.split(separator: "\n").compactMap { l in
            guard let r = l.range(of: "partition "), l.contains(" restored (") else { return nil }
            let rest = l[r.upperBound...]
            guard let p = Int32(rest.prefix { $0.isNumber }) else { return nil }
            return (p, String(rest))
        }
    }

    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func terminate() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }
}
