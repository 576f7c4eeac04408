import AgentCoreAgents
import AgentCoreClient
import AgentCoreKafka
import AgentCoreModel
import ArgumentParser
import Foundation
import Logging
import Synchronization

/// The bench's two agents: `bench-pinger` measures, `bench-ponger` answers each message at
/// once (without waiting for its reply's delivery, so it keeps up with the offered rate).
private let benchState = Mutex<(pinger: AgentHandle?, latencies: [Double])>((nil, []))

/// Samples taken from concurrent tasks.
private final class Samples: Sendable {
    private let values = Mutex<[Double]>([])
    private let failed = Mutex(0)
    func add(_ v: Double) { values.withLock { $0.append(v) } }
    func fail() { failed.withLock { $0 += 1 } }
    var all: [Double] { values.withLock { $0 } }
    var failures: Int { failed.withLock { $0 } }
}

private actor BenchPinger: Agent {
    static let definition = AgentDefinition(slug: "bench-pinger", name: "Bench pinger", agentType: "bench")
    init(handle: AgentHandle) { benchState.withLock { $0.pinger = handle } }
    func receive(_ message: AgentMessage) async throws {
        guard let sent = message.body["t"]?.intValue else { return }
        let ms = Double(Int64(DispatchTime.now().uptimeNanoseconds) - sent) / 1e6
        benchState.withLock { $0.latencies.append(ms) }
    }
}

private actor BenchPonger: Agent {
    static let definition = AgentDefinition(slug: "bench-ponger", name: "Bench ponger", agentType: "bench")
    let handle: AgentHandle
    init(handle: AgentHandle) { self.handle = handle }
    func receive(_ message: AgentMessage) async throws {
        try await handle.reply(to: message, body: message.body, awaitDelivery: false)
    }
}

extension BenchCommand {
    /// Message round trips between two agents of one host (pinger → ponger → pinger: two
    /// commands through the worker, two deliveries through the host) beside command round
    /// trips (`send --wait`'s `enqueueAndWait`), at the same offered rate, same run.
    struct Agents: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Agent message round trips (one host, embedded cluster) beside send --wait round trips, same run."
        )
        @Option(help: "Messages (and commands) offered per second.") var rate = 100.0
        @Option(help: "Seconds each phase offers load.") var seconds = 20.0
        @Option(help: "Partitions.") var partitions = 4
        @Option(help: "Directory for the stores.") var dir = "./data/bench-agents"
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            let logger = logging.bootstrap(default: .warning)
            let (cluster, worker, loop) = try BenchCommand.embeddedWorker(partitions: partitions, dir: dir, logger: logger)
            let kafka = BenchCommand.clientConfig(cluster)
            var config = AgentHostConfig(hostId: "bench")
            config.instances = [
                .init(type: "bench-pinger", workspace: "bench-agents", project: "p", ids: ["ping"]),
                .init(type: "bench-ponger", workspace: "bench-agents", project: "p", ids: ["pong"]),
            ]
            let host = AgentHost(
                kafka: kafka,
                config: config,
                registry: AgentRegistry([BenchPinger.self, BenchPonger.self]),
                logger: logger
            )
            let hostRun = Task { try await host.run() }
            let started = ContinuousClock.now
            while host.instances.count < 2 || !host.instances.allSatisfy({ $0.state == .active }) {
                guard ContinuousClock.now - started < .seconds(60) else { throw CLIError("bench agents did not start: \(host.instances)") }
                try await Task.sleep(for: .milliseconds(50))
            }
            guard let pinger = benchState.withLock({ $0.pinger }) else { throw CLIError("no pinger") }
            let count = Int(rate * seconds)

            // Phase 1: messages. Each send is answered by the ponger; the pinger measures.
            let sendFailures = Samples()
            let t0 = ContinuousClock.now
            for i in 0..<count {
                try await Task.sleep(until: t0 + .milliseconds(Int64(Double(i) * 1000 / rate)), clock: .continuous)
                Task {
                    let body: JSONValue = ["i": .int(Int64(i)), "t": .int(Int64(DispatchTime.now().uptimeNanoseconds))]
                    do { try await pinger.send(to: "pong", body: body, awaitDelivery: false) } catch { sendFailures.fail() }
                }
            }
            let deadline = ContinuousClock.now + .seconds(60)
            while benchState.withLock({ $0.latencies.count }) < count - sendFailures.failures, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            let messages = benchState.withLock { $0.latencies }

            // Phase 2: command round trips at the same rate, as `send --wait` does them.
            let client = try AgentCoreClient(config: kafka, logger: logger)
            let c = Commands(workspace: "bench-agents", project: "p", actor: "bench")
            let commandLatencies = Samples()
            let answeredLatencies = Samples()
            let t1 = ContinuousClock.now
            await withTaskGroup(of: Void.self) { group in
                for i in 0..<count {
                    try? await Task.sleep(until: t1 + .milliseconds(Int64(Double(i) * 1000 / rate)), clock: .continuous)
                    group.addTask {
                        let s = DispatchTime.now().uptimeNanoseconds
                        if i % 2 == 0 {
                            if (try? await client.enqueueAndWait(c.heartbeat(instanceId: "ping"))) != nil {
                                commandLatencies.add(Double(DispatchTime.now().uptimeNanoseconds - s) / 1e6)
                            }
                        } else if (try? await client.enqueueAndWait(
                            c.heartbeat(instanceId: "ping"),
                            until: AgentCoreClient.answered(by: [.instanceHeartbeat])
                        )) != nil {
                            answeredLatencies.add(Double(DispatchTime.now().uptimeNanoseconds - s) / 1e6)
                        }
                    }
                }
            }
            client.close()
            host.stop()
            try await hostRun.value
            worker.stop()
            try await loop.value
            withExtendedLifetime(cluster) {}

            func summary(_ l: [Double]) -> JSONValue {
                let s = l.sorted()
                guard !s.isEmpty else { return .object(["count": 0]) }
                func p(_ q: Double) -> JSONValue { .double((s[min(s.count - 1, Int(q * Double(s.count)))] * 10).rounded() / 10) }
                return .object(["count": .int(Int64(s.count)), "p50_ms": p(0.5), "p99_ms": p(0.99), "max_ms": p(1.0)])
            }
            let results: [String: JSONValue] = [
                "message_round_trip": summary(messages),
                "send_wait_round_trip": summary(commandLatencies.all),
                "command_answered_round_trip": summary(answeredLatencies.all),
                "messages_offered": .int(Int64(count)), "send_failures": .int(Int64(sendFailures.failures)),
            ]
            let out = JSONValue.object(
                results.merging(["bench": "agents", "rate": .double(rate), "partitions": .int(Int64(partitions))]) { a, _ in a }
            )
            if json {
                print(out.canonicalString)
            } else {
                for k in results.keys.sorted() { print("\(k): \(results[k]!.canonicalString)") }
            }
        }
    }
}
