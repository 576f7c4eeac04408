import AgentCoreAgents
import AgentCoreClient
import AgentCoreKafka
import AgentCoreModel
import AgentCoreStore
import Foundation
import Logging
import Synchronization
import Testing

@testable import AgentCoreWorker

/// What the test agents did, by "<workspace>/<instance>".
final class HookLog: Sendable {
    static let shared = HookLog()
    private let calls = Mutex<[String: [String]]>([:])
    private let messages = Mutex<[String: [AgentMessage]]>([:])
    private let handles = Mutex<[String: AgentHandle]>([:])

    func record(_ key: String, _ call: String) { calls.withLock { $0[key, default: []].append(call) } }
    func calls(_ key: String) -> [String] { calls.withLock { $0[key] ?? [] } }
    func count(_ key: String, _ call: String) -> Int { calls(key).filter { $0 == call }.count }
    func received(_ key: String, _ m: AgentMessage) { messages.withLock { $0[key, default: []].append(m) } }
    func messages(_ key: String) -> [AgentMessage] { messages.withLock { $0[key] ?? [] } }
    func setHandle(_ key: String, _ h: AgentHandle) { handles.withLock { $0[key] = h } }
    func handle(_ key: String) -> AgentHandle? { handles.withLock { $0[key] } }
}

/// Records every hook call; `receive` answers a body with `ping` by a `pong`; config
/// `fail_on` names a hook that throws.
actor RecorderAgent: Agent {
    static let definition = AgentDefinition(
        slug: "recorder",
        name: "Recorder",
        agentType: "test",
        capabilities: ["messages"],
        configSchema: ["type": "object", "properties": ["level": ["type": "integer"], "fail_on": ["type": "string"]]]
    )

    let handle: AgentHandle
    let key: String
    var failOn: String?

    init(handle: AgentHandle) {
        self.handle = handle
        key = "\(handle.workspace)/\(handle.instanceId)"
        HookLog.shared.setHandle(key, handle)
    }

    struct Planned: Error, CustomStringConvertible { var description: String }

    private func hook(_ name: String) throws {
        HookLog.shared.record(key, name)
        if failOn == name { throw Planned(description: "planned failure in \(name)") }
    }

    func initialize(config: JSONValue) async throws {
        failOn = config["fail_on"]?.stringValue
        try hook("initialize")
    }
    func activate() async throws { try hook("activate") }
    func deactivate() async throws { try hook("deactivate") }
    func shutdown() async throws { try hook("shutdown") }
    func configure(_ config: JSONValue) async throws {
        HookLog.shared.record(key, "configure:\(config["level"]?.intValue ?? -1)")
    }
    func receive(_ message: AgentMessage) async throws {
        HookLog.shared.received(key, message)
        if message.body["ping"] != nil {
            try await handle.reply(to: message, body: ["pong": message.body["ping"] ?? .null])
        }
    }
}

/// The agent host as a library against one in-process worker (issue 14).
@Suite(.serialized) struct AgentHostTests {
    static func host(_ h: WorkerHarness, _ config: AgentHostConfig) -> AgentHost {
        var logger = Logger(label: "test.agent-host")
        logger.logLevel = .warning
        return AgentHost(
            kafka: h.kafka,
            topicPrefix: h.topics.prefix,
            config: config,
            registry: AgentRegistry([RecorderAgent.self, ScribeAgent.self, FragileAgent.self]),
            shutdownGrace: .seconds(10),
            logger: logger
        )
    }

    /// The instance as the workspace's store has it; nil before the worker created the store.
    static func instance(_ h: WorkerHarness, _ ws: String, _ project: String, _ id: String) throws -> InstanceInfo? {
        let p = Murmur2.partition(forKey: ws, partitionCount: Int32(h.partitions))
        guard FileManager.default.fileExists(atPath: (h.dataDir as NSString).appendingPathComponent("partition-\(p).sqlite")) else {
            return nil
        }
        let s = try h.store(for: ws)
        defer { s.close() }
        return try s.instance(workspace: ws, project: project, id: id)
    }

    static func statuses(_ h: WorkerHarness, _ ws: String, _ project: String, _ ids: [String]) throws -> [InstanceStatus?] {
        try ids.map { try instance(h, ws, project, $0)?.status }
    }

    @Test func lifecycleErrorsOperatorsAndMessages() async throws {
        try await withTaskExecutorPreference(TestExecutor.shared) {
            let h = try WorkerHarness(partitions: 4)
            h.startWorker("w1") { $0.store.instanceTimeoutMillis = 3_000 }
            let ws = "acme-\(UUID().uuidString.prefix(6))"
            let other = "other-\(UUID().uuidString.prefix(6))"
            var config = AgentHostConfig(hostId: "h1")
            config.heartbeatInterval = .milliseconds(500)
            config.instances = [
                .init(type: "recorder", workspace: ws, project: "p", ids: ["a1", "a2"], config: ["level": 1]),
                .init(type: "recorder", workspace: ws, project: "p", ids: ["bad"], config: ["fail_on": "initialize"]),
                .init(type: "recorder", workspace: other, project: "p", ids: ["b1"]),
            ]
            let host = Self.host(h, config)
            let run = Task(executorPreference: TestExecutor.shared) { try await host.run() }
            let started = await eventually(seconds: 60) {
                host.instances.allSatisfy { $0.state == .active || $0.state == .failed } && host.instances.count == 4
            }
            #expect(started, "\(host.instances)")
            #expect(try await eventually { try Self.statuses(h, ws, "p", ["a1", "a2", "bad"]) == [.active, .active, .error] })
            // The throwing hook: error, with its message as the last error; the others run.
            let bad = try Self.instance(h, ws, "p", "bad")
            #expect(bad?.lastError?.contains("planned failure in initialize") == true, "\(String(describing: bad))")
            #expect(HookLog.shared.calls("\(ws)/a1") == ["initialize", "activate"])
            #expect(HookLog.shared.calls("\(ws)/bad") == ["initialize"])

            // Heartbeats keep them live in stream time past the 3 s timeout (the heartbeats
            // themselves move stream time on).
            try await Task.sleep(for: .seconds(5))
            #expect(try Self.statuses(h, ws, "p", ["a1", "a2"]) == [.active, .active])
            #expect(try Self.instance(h, ws, "p", "a1")?.lastHeartbeatMillis != nil)

            // An operator's idle and active: deactivate then activate, once each.
            let client = try h.client()
            defer { client.close() }
            let op = Commands(workspace: ws, project: "p", actor: "operator")
            _ = try await client.enqueueAndWait(op.transition(instanceId: "a1", to: .idle))
            #expect(await eventually(seconds: 30) { HookLog.shared.count("\(ws)/a1", "deactivate") == 1 })
            _ = try await client.enqueueAndWait(op.transition(instanceId: "a1", to: .active))
            #expect(await eventually(seconds: 30) { HookLog.shared.count("\(ws)/a1", "activate") == 2 })
            // A configure the schema rejects never reaches the hook; a valid one does, merged.
            let refused = try await client.enqueueAndWait(op.configure(instanceId: "a2", config: ["level": "high"]))
            #expect(refused.first?.payload["code"] == "config_invalid")
            _ = try await client.enqueueAndWait(op.configure(instanceId: "a2", config: ["level": 7]))
            #expect(await eventually(seconds: 30) { HookLog.shared.calls("\(ws)/a2").contains("configure:7") })
            #expect(HookLog.shared.calls("\(ws)/a2").filter { $0.hasPrefix("configure") } == ["configure:7"])

            // A round trip between two agents: a1 pings a2, a2's reply reaches a1.
            let a1 = try #require(HookLog.shared.handle("\(ws)/a1"))
            let seq = try await a1.send(to: "a2", body: ["ping": "hello"], correlationId: "corr-1")
            #expect(seq == 1)
            #expect(await eventually(seconds: 30) { HookLog.shared.messages("\(ws)/a1").count == 1 })
            let pong = HookLog.shared.messages("\(ws)/a1").first
            #expect(pong?.body == ["pong": "hello"])
            #expect(pong?.correlationId == "corr-1")
            #expect(pong?.fromInstance == "a2")
            #expect(HookLog.shared.messages("\(ws)/a2").map(\.seq) == [1])

            // Another workspace's instance is not reachable: refused, never delivered.
            await #expect(throws: AgentCommandRejected.self) { try await a1.send(to: "b1", body: ["x": 1]) }
            let cross = try await client.enqueueAndWait(op.message(from: "a1", to: "b1", body: ["x": 1]))
            #expect(cross.first?.payload["code"] == "not_found")

            // A context handle: compare-and-set writes, a read, a rollback.
            let notes = a1.context("notes")
            #expect(try await notes.write(["v": 1], expectedVersion: 0) == 1)
            #expect(try await notes.write(["v": 2], expectedVersion: 1) == 2)
            await #expect(throws: AgentCommandRejected.self) { try await notes.write(["v": 3], expectedVersion: 1) }
            #expect(try await notes.rollback(to: 1) == 3)

            // 1,000 messages to one target: in order, each received once.
            let producer = client.producer
            for n in 0..<1_000 {
                try producer.enqueue(op.message(from: "a2", to: "a1", body: ["n": .int(Int64(n))])) { _ in }
            }
            #expect(await eventually(seconds: 120) { HookLog.shared.messages("\(ws)/a1").count >= 1_001 })
            let got = HookLog.shared.messages("\(ws)/a1").dropFirst()
            let seqsInOrder = got.map(\.seq) == (2...1_001).map(Int64.init)
            let bodiesInOrder = got.map { $0.body["n"]?.intValue ?? -1 } == (0..<1_000).map(Int64.init)
            #expect(seqsInOrder, "\(got.count) received after the pong")
            #expect(bodiesInOrder)
            #expect(HookLog.shared.messages("\(other)/b1").isEmpty)

            // Stop (what SIGTERM does through the service group): every instance offline.
            host.stop()
            try await run.value
            #expect(host.instances.allSatisfy { $0.state == .stopped })
            #expect(try Self.statuses(h, ws, "p", ["a1", "a2", "bad"]) == [.offline, .offline, .offline])
            #expect(try Self.statuses(h, other, "p", ["b1"]) == [.offline])
            #expect(HookLog.shared.calls("\(ws)/a1").suffix(2) == ["deactivate", "shutdown"])
            try await h.stopAll()
        }
    }

    @Test func restartAdoptsTheSameInstancesAndDisabledHostRunsNothing() async throws {
        try await withTaskExecutorPreference(TestExecutor.shared) {
            let h = try WorkerHarness(partitions: 2)
            h.startWorker("w1")
            let ws = "adopt-\(UUID().uuidString.prefix(6))"
            var config = AgentHostConfig(hostId: "h2")
            config.heartbeatInterval = .milliseconds(500)
            config.instances = [.init(type: "recorder", workspace: ws, project: "p", ids: ["r1", "r2"])]
            for round in 1...2 {
                let host = Self.host(h, config)
                let run = Task(executorPreference: TestExecutor.shared) { try await host.run() }
                #expect(
                    await eventually(seconds: 60) { host.instances.count == 2 && host.instances.allSatisfy { $0.state == .active } },
                    "round \(round)"
                )
                #expect(try await eventually { try Self.statuses(h, ws, "p", ["r1", "r2"]) == [.active, .active] })
                host.stop()
                try await run.value
            }
            let s = try h.store(for: ws)
            let all = try s.instances(workspace: ws, project: "p")
            s.close()
            #expect(all.map(\.id).sorted() == ["r1", "r2"])
            #expect(all.allSatisfy { $0.status == .offline })
            #expect(HookLog.shared.count("\(ws)/r1", "initialize") == 2)

            // agents_enabled off: nothing registered, nothing spawned, and it stops on request.
            var off = config
            off.agentsEnabled = false
            off.instances = [.init(type: "recorder", workspace: ws, project: "p", ids: ["never"])]
            let idle = Self.host(h, off)
            let run = Task(executorPreference: TestExecutor.shared) { try await idle.run() }
            try await Task.sleep(for: .seconds(2))
            idle.stop()
            try await run.value
            #expect(try Self.instance(h, ws, "p", "never") == nil)
            try await h.stopAll()
        }
    }

    /// An instance whose initialize failed comes back after an operator fixes its config;
    /// messages to an idle instance wait and arrive in order once it is active again.
    @Test func operatorsReviveAFailedInstanceAndHeldMessagesWait() async throws {
        try await withTaskExecutorPreference(TestExecutor.shared) {
            let h = try WorkerHarness(partitions: 2)
            h.startWorker("w1")
            let ws = "revive-\(UUID().uuidString.prefix(6))"
            var config = AgentHostConfig(hostId: "h4")
            config.heartbeatInterval = .milliseconds(500)
            config.instances = [
                .init(type: "recorder", workspace: ws, project: "p", ids: ["ok"]),
                .init(type: "recorder", workspace: ws, project: "p", ids: ["broken"], config: ["fail_on": "initialize"]),
            ]
            let host = Self.host(h, config)
            let run = Task(executorPreference: TestExecutor.shared) { try await host.run() }
            #expect(try await eventually(seconds: 60) { try Self.statuses(h, ws, "p", ["ok", "broken"]) == [.active, .error] })
            let client = try h.client()
            defer { client.close() }
            let op = Commands(workspace: ws, project: "p", actor: "operator")
            _ = try await client.enqueueAndWait(op.transition(instanceId: "broken", to: .idle))
            _ = try await client.enqueueAndWait(op.configure(instanceId: "broken", config: ["fail_on": "nothing"]))
            _ = try await client.enqueueAndWait(op.transition(instanceId: "broken", to: .active))
            #expect(await eventually(seconds: 30) { host.instances.first { $0.id == "broken" }?.state == .active }, "\(host.instances)")
            #expect(HookLog.shared.calls("\(ws)/broken") == ["initialize", "initialize", "activate"])
            #expect(try Self.statuses(h, ws, "p", ["broken"]) == [.active])

            // Idle: messages wait (the other instance keeps getting its own); active: delivered in order.
            _ = try await client.enqueueAndWait(op.transition(instanceId: "ok", to: .idle))
            #expect(await eventually(seconds: 30) { host.instances.first { $0.id == "ok" }?.state == .idle })
            for n in 0..<3 { _ = try await client.enqueueAndWait(op.message(from: "broken", to: "ok", body: ["n": .int(Int64(n))])) }
            _ = try await client.enqueueAndWait(op.message(from: "ok", to: "broken", body: ["n": 99]))
            #expect(await eventually(seconds: 30) { HookLog.shared.messages("\(ws)/broken").count == 1 })
            #expect(HookLog.shared.messages("\(ws)/ok").isEmpty)
            _ = try await client.enqueueAndWait(op.transition(instanceId: "ok", to: .active))
            #expect(await eventually(seconds: 30) { HookLog.shared.messages("\(ws)/ok").count == 3 })
            #expect(HookLog.shared.messages("\(ws)/ok").map(\.seq) == [1, 2, 3])
            host.stop()
            try await run.value
            try await h.stopAll()
        }
    }

    /// No worker at start, then a worker stopped under an agent's write: the host waits
    /// (retrying the same commands), never ends, and catches up once a worker runs.
    @Test func waitsThroughWorkerOutagesAndCatchesUp() async throws {
        try await withTaskExecutorPreference(TestExecutor.shared) {
            let h = try WorkerHarness(partitions: 2)
            let ws = "outage-\(UUID().uuidString.prefix(6))"
            var config = AgentHostConfig(hostId: "h3")
            config.heartbeatInterval = .milliseconds(500)
            config.commandAttemptTimeout = .seconds(1)  // the outages below outlast several attempts
            config.instances = [.init(type: "recorder", workspace: ws, project: "p", ids: ["o1"])]
            let host = Self.host(h, config)
            let run = Task(executorPreference: TestExecutor.shared) { try await host.run() }
            try await Task.sleep(for: .seconds(3))
            #expect(host.instances.allSatisfy { $0.state == .starting })
            h.startWorker("w1")
            #expect(
                await eventually(seconds: 90) { host.instances.count == 1 && host.instances.allSatisfy { $0.state == .active } },
                "\(host.instances)"
            )
            let handle = try #require(HookLog.shared.handle("\(ws)/o1"))

            try await h.stopAll()
            let write = Task(executorPreference: TestExecutor.shared) { try await handle.context("c").write(["after": "outage"]) }
            try await Task.sleep(for: .seconds(3))
            h.startWorker("w2")
            let version = try await write.value
            #expect(version == 1)
            #expect(try await eventually { try Self.statuses(h, ws, "p", ["o1"]) == [.active] })
            host.stop()
            try await run.value
            #expect(try Self.statuses(h, ws, "p", ["o1"]) == [.offline])
            try await h.stopAll()
        }
    }

    @Test func configFileParsesAndRefusesMistakes() throws {
        let c = try AgentHostConfig.parse(
            Array(
                """
                {"host_id": "h", "heartbeat_interval_seconds": 2, "read_url": "http://w:8080",
                 "instances": [{"type": "scribe", "workspace": "w", "project": "p", "count": 2, "config": {"a": 1}},
                               {"type": "fragile", "workspace": "w", "project": "p", "ids": ["f"]}]}
                """.utf8
            )
        )
        #expect(c.instances.map(\.ids) == [["h-scribe-1", "h-scribe-2"], ["f"]])
        #expect(c.heartbeatInterval == .seconds(2))
        #expect(c.agentsEnabled)
        for bad in [
            #"{"instances": []}"#, #"{"host_id": "h", "extra": 1}"#,
            #"{"host_id": "h", "instances": [{"type": "x", "workspace": "w", "project": "p", "count": 2, "ids": ["a"]}]}"#,
            #"{"host_id": "h", "instances": [{"type": "x", "workspace": "w", "project": "p", "ids": ["a", "a"]}]}"#,
            #"{"host_id": "h", "heartbeat_interval_seconds": 0}"#,
        ] {
            #expect(throws: AgentHostError.self, "\(bad)") { try AgentHostConfig.parse(Array(bad.utf8)) }
        }
    }
}
