@_spi(Benchmark) import AgentCoreClient
import AgentCoreKafka
import AgentCoreModel
import AgentCoreWorker
import ArgumentParser
import Foundation
import Logging

extension BenchCommand {
    /// `enqueueAndWait` round trips through the embedded cluster and one worker: the
    /// client's shared result consumer beside the earlier consumer-per-call way, same run.
    struct Client: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "enqueueAndWait round trips, sequential and concurrent, with the shared result consumer and the earlier consumer per call."
        )
        @Option(help: "Calls with the shared result consumer (each mode).") var calls = 1_000
        @Option(help: "Calls the earlier way (a consumer per call and a 0.3 s settle: slow), each mode.") var baselineCalls = 100
        @Option(help: "Most calls the earlier way has in flight at once (each is a Kafka client).") var baselineConcurrency = 50
        @Option(help: "Partitions.") var partitions = 8
        @Option(help: "Directory for the stores.") var dir = "./data/bench-client"
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            let logger = logging.bootstrap(default: .warning)
            let (cluster, worker, loop) = try BenchCommand.embeddedWorker(partitions: partitions, dir: dir, logger: logger)
            let kafka = BenchCommand.clientConfig(cluster)
            let client = try AgentCoreClient(config: kafka, logger: logger)
            let workspaces = (0..<16).map { Commands(workspace: "client-\($0)", project: "p", actor: "bench") }
            _ = try await client.enqueueAndWait(workspaces[0].registerDefinition(slug: "bench", name: "Bench", agentType: "bench"))
            for w in workspaces { _ = try await client.enqueueAndWait(w.spawn(definition: "bench", name: "i", instanceId: "i")) }
            var seq = 0
            func next() -> CommandEnvelope {
                seq += 1
                return BenchCommand.write(workspaces[seq % workspaces.count], instance: "i", context: "c\(seq % 8)", bytes: 200, seq: seq)
            }
            let shared = { @Sendable (e: CommandEnvelope) async throws in _ = try await client.enqueueAndWait(e) }
            let own = { @Sendable (e: CommandEnvelope) async throws in _ = try await client.enqueueAndWaitWithOwnConsumer(e) }
            var results: [String: JSONValue] = [:]
            results["shared_sequential"] = try await Self.sequential((0..<calls).map { _ in next() }, shared)
            results["shared_concurrent"] = try await Self.concurrent((0..<calls).map { _ in next() }, limit: calls, shared)
            results["own_consumer_sequential"] = try await Self.sequential((0..<baselineCalls).map { _ in next() }, own)
            results["own_consumer_concurrent"] = try await Self.concurrent(
                (0..<baselineCalls).map { _ in next() },
                limit: baselineConcurrency,
                own
            )
            client.close()
            worker.stop()
            try await loop.value
            withExtendedLifetime(cluster) {}
            let out = JSONValue.object(results.merging(["bench": "client", "partitions": .int(Int64(partitions))]) { a, _ in a })
            if json {
                print(out.canonicalString)
            } else {
                for k in results.keys.sorted() { print("\(k): \(results[k]!.canonicalString)") }
            }
        }

        static func summary(_ latencies: [Double], seconds: Double) -> JSONValue {
            let sorted = latencies.sorted()
            func p(_ q: Double) -> JSONValue { .double((sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))] * 10).rounded() / 10) }
            return .object([
                "calls": .int(Int64(sorted.count)), "seconds": .double((seconds * 100).rounded() / 100),
                "calls_per_second": .double((Double(sorted.count) / seconds * 10).rounded() / 10), "p50_ms": p(0.5), "p99_ms": p(0.99),
            ])
        }

        static func sequential(_ commands: [CommandEnvelope], _ call: (CommandEnvelope) async throws -> Void) async throws -> JSONValue {
            var latencies: [Double] = []
            let t0 = DispatchTime.now().uptimeNanoseconds
            for c in commands {
                let s = DispatchTime.now().uptimeNanoseconds
                try await call(c)
                latencies.append(Double(DispatchTime.now().uptimeNanoseconds - s) / 1e6)
            }
            return summary(latencies, seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }

        static func concurrent(
            _ commands: [CommandEnvelope],
            limit: Int,
            _ call: @escaping @Sendable (CommandEnvelope) async throws -> Void
        ) async throws -> JSONValue {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let latencies = try await withThrowingTaskGroup(of: Double.self) { group in
                var out: [Double] = []
                var pending = commands[...]
                func start(_ c: CommandEnvelope) {
                    group.addTask {
                        let s = DispatchTime.now().uptimeNanoseconds
                        try await call(c)
                        return Double(DispatchTime.now().uptimeNanoseconds - s) / 1e6
                    }
                }
                for _ in 0..<min(limit, pending.count) { start(pending.removeFirst()) }
                while let l = try await group.next() {
                    out.append(l)
                    if let c = pending.popFirst() { start(c) }
                }
                return out
            }
            return summary(latencies, seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
    }
}
