import AgentCoreAgents
import AgentCoreClient
import AgentCoreKafka
import AgentCoreModel
import AgentCoreStore
import Foundation
import Logging
import Testing

@testable import AgentCoreWorker

/// Issue 14 with real processes: the `agentcore agents run` host killed and restarted, and
/// messages that cross a worker SIGKILL. Slow: `swift test --filter MultiProcess`.
@Suite(.serialized) struct MultiProcessAgentTests {
    func setUp(partitions: Int) throws -> (WorkerHarness, URL) {
        let h = try WorkerHarness(partitions: partitions)
        let logs = URL(fileURLWithPath: h.dataDir + "-logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: h.dataDir, withIntermediateDirectories: true)
        return (h, logs)
    }

    func hostProcess(_ h: WorkerHarness, _ logs: URL, config: String) throws -> WorkerProcess {
        try WorkerProcess(
            id: "host",
            arguments: [
                "agents", "run", "--config", config, "--brokers", h.cluster.bootstrapServers, "--topic-prefix", h.topics.prefix,
                "--shutdown-timeout", "20", "--log-level", "info",
            ],
            logDir: logs
        )
    }

    static func statuses(_ h: WorkerHarness, _ ws: String, _ ids: [String]) throws -> [InstanceStatus?] {
        try ids.map { try AgentHostTests.instance(h, ws, "p", $0)?.status }
    }

    @Test func hostKilledGoesOfflineThenRestartAdoptsAndSigtermStopsCleanly() async throws {
        let (h, logs) = try setUp(partitions: 2)
        let worker = try WorkerProcess(
            id: "w1",
            brokers: h.cluster.bootstrapServers,
            prefix: h.topics.prefix,
            dataDir: h.dataDir,
            logDir: logs,
            extra: ["--instance-timeout-ms", "3000"]
        )
        defer { _ = worker.terminate() }
        #expect(worker.waitUntilAssigned())
        let ws = "mp-\(UUID().uuidString.prefix(6))"
        let ids = ["s1", "s2", "f1"]
        let configPath = logs.appendingPathComponent("host.json").path
        try """
        {"host_id": "mp", "heartbeat_interval_seconds": 0.5,
         "instances": [{"type": "scribe", "workspace": "\(ws)", "project": "p", "ids": ["s1", "s2"]},
                       {"type": "fragile", "workspace": "\(ws)", "project": "p", "ids": ["f1"],
                        "config": {"endpoint": "https://example.invalid"}}]}
        """.write(toFile: configPath, atomically: true, encoding: .utf8)

        var host = try hostProcess(h, logs, config: configPath)
        #expect(try await eventually(seconds: 90) { try Self.statuses(h, ws, ids) == [.active, .active, .active] }, "\(host.output.suffix(3000))")

        // SIGKILL: nobody reports offline; the liveness sweep does once stream time moves
        // past the timeout (another instance's heartbeats move it here).
        host.kill9()
        let client = try h.client()
        defer { client.close() }
        let c = Commands(workspace: ws, project: "p", actor: "test")
        _ = try await client.enqueueAndWait(c.spawn(definition: "scribe", name: "clock", instanceId: "clock"))
        let wentOffline = try await eventually(seconds: 60) {
            _ = try? client.producer.enqueue(c.heartbeat(instanceId: "clock")) { _ in }
            return try Self.statuses(h, ws, ids) == [.offline, .offline, .offline]
        }
        #expect(wentOffline, "\(String(describing: try? Self.statuses(h, ws, ids)))")

        // Restart: the same ids come back active; no new instance.
        host = try hostProcess(h, logs, config: configPath)
        #expect(try await eventually(seconds: 90) { try Self.statuses(h, ws, ids) == [.active, .active, .active] }, "\(host.output.suffix(3000))")
        let s = try h.store(for: ws)
        let all = try s.instances(workspace: ws, project: "p").map(\.id).sorted()
        s.close()
        #expect(all == ["clock", "f1", "s1", "s2"])
        #expect(host.output.contains("adopted instance s1"))

        // SIGTERM: every instance offline, exit 0 within the bound.
        let stopped = host.terminate(within: 30)
        #expect(stopped.status == 0, "\(host.output.suffix(3000))")
        #expect(stopped.seconds < 25)
        #expect(try Self.statuses(h, ws, ids) == [.offline, .offline, .offline])
    }

    @Test func thousandMessagesInOrderAcrossWorkerSigkills() async throws {
        try await withTaskExecutorPreference(TestExecutor.shared) {
            let (h, logs) = try setUp(partitions: 2)
            func worker(_ id: String) throws -> WorkerProcess {
                try WorkerProcess(id: id, brokers: h.cluster.bootstrapServers, prefix: h.topics.prefix, dataDir: h.dataDir, logDir: logs)
            }
            var workers = [try worker("w1"), try worker("w2")]
            for w in workers { #expect(w.waitUntilAssigned()) }
            let ws = "msg-\(UUID().uuidString.prefix(6))"
            var config = AgentHostConfig(hostId: "mh")
            config.heartbeatInterval = .seconds(1)
            config.instances = [.init(type: "recorder", workspace: ws, project: "p", ids: ["sender", "target"])]
            let host = AgentHostTests.host(h, config)
            let run = Task(executorPreference: TestExecutor.shared) { try await host.run() }
            #expect(
                await eventually(seconds: 90) { host.instances.count == 2 && host.instances.allSatisfy { $0.state == .active } },
                "\(host.instances)"
            )

            // 1,000 messages at about 200/s; both workers are killed (so whichever owns the
            // workspace's partition dies mid-stream) and started again.
            let producer = try AgentCoreProducer(config: h.kafka, topicPrefix: h.topics.prefix)
            let c = Commands(workspace: ws, project: "p", actor: "test")
            for n in 0..<1_000 {
                try producer.enqueue(c.message(from: "sender", to: "target", body: ["n": .int(Int64(n))])) { _ in }
                if n % 20 == 19 { try await Task.sleep(for: .milliseconds(100)) }
                if n == 300 { workers[0].kill9() }
                if n == 450 { workers[0] = try worker("w1") }
                if n == 650 { workers[1].kill9() }
                if n == 800 { workers[1] = try worker("w2") }
            }
            let key = "\(ws)/target"
            let all = await eventually(seconds: 240) { HookLog.shared.messages(key).count >= 1_000 }
            #expect(all, "received \(HookLog.shared.messages(key).count)")
            try await Task.sleep(for: .seconds(2))  // anything re-delivered late would show now
            let got = HookLog.shared.messages(key)
            let seqs = got.map(\.seq)
            let bodies = got.map { $0.body["n"]?.intValue ?? -1 }
            let seqsInOrder = seqs == (1...1_000).map(Int64.init)
            let bodiesInOrder = bodies == (0..<1_000).map(Int64.init)
            let firstSeqOff = seqs.enumerated().first { $0.element != Int64($0.offset + 1) }.map { "\($0.offset): \($0.element)" } ?? "-"
            let firstBodyOff = bodies.enumerated().first { $0.element != Int64($0.offset) }.map { "\($0.offset): \($0.element)" } ?? "-"
            #expect(seqsInOrder, "\(seqs.count) received; first seq out of place at \(firstSeqOff)")
            #expect(bodiesInOrder, "first body out of place at \(firstBodyOff)")
            #expect(Set(got.map(\.eventId)).count == got.count)
            host.stop()
            try await run.value
            for w in workers { _ = w.terminate() }
        }
    }
}
