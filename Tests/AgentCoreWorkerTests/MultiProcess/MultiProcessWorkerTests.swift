import AgentCoreClient
import AgentCoreKafka
import AgentCoreModel
import Foundation
import Testing

@testable import AgentCoreWorker

/// Issue 4's acceptance tests with real `agentcore worker` processes on the embedded
/// cluster hosted by the test process. Slow (about a minute each): `swift test --filter MultiProcess`.
@Suite(.serialized) struct MultiProcessWorkerTests {
    static let mpArgs = ["--history-limit", "100000", "--batch-size", "500"]

    func setUp(partitions: Int = 12) throws -> (WorkerHarness, URL, AgentCoreProducer) {
        let h = try WorkerHarness(partitions: partitions)
        let logs = URL(fileURLWithPath: h.dataDir + "-logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: h.dataDir, withIntermediateDirectories: true)
        let producer = try AgentCoreProducer(config: h.kafka, topicPrefix: h.topics.prefix)
        return (h, logs, producer)
    }

    func worker(_ id: String, _ h: WorkerHarness, _ logs: URL) throws -> WorkerProcess {
        try WorkerProcess(
            id: id,
            brokers: h.cluster.bootstrapServers,
            prefix: h.topics.prefix,
            dataDir: h.dataDir,
            logDir: logs,
            extra: Self.mpArgs
        )
    }

    @Test func sigkillMidStreamThenRestart() async throws {
        let (h, logs, producer) = try setUp()
        let workload = MixedWorkload(producer: producer, prefix: h.topics.prefix, workspaces: 200, seed: 11)
        var workers = try (1...3).map { try worker("w\($0)", h, logs) }
        for w in workers { #expect(w.waitUntilAssigned()) }
        try workload.setUp(waitingOn: h)
        var killed = false
        try workload.run(count: 20_000, rate: 2_000) { sent in
            if sent == 6_000 && !killed {
                workers[1].kill9()
                killed = true
            }
            if sent == 8_000 { workers[1] = (try? worker("w2", h, logs)) ?? workers[1] }
        }
        let checks = RunChecks(h: h, workload: workload)
        let status = try await checks.waitForAllResults()
        for w in workers {
            let r = w.terminate()
            #expect(r.status == 0, "\(w.id) exit \(r.status): \(w.output.suffix(2000))")
        }
        let dups = checks.checkDuplicatesIdentical(status)
        print("sigkill run: \(status.count) status records, \(dups) duplicates (same id, same bytes)")
        try checks.checkVersionsGapFree()
        try await checks.checkEqualsSingleWorkerReplay()
    }

    @Test func scaleUpFromOneToThreeAndBackDown() async throws {
        let (h, logs, producer) = try setUp()
        let workload = MixedWorkload(producer: producer, prefix: h.topics.prefix, workspaces: 200, seed: 12)
        var workers = [try worker("w1", h, logs)]
        #expect(workers[0].waitUntilAssigned())
        try workload.setUp(waitingOn: h)
        var scaledDown = false
        try workload.run(count: 20_000, rate: 2_000) { sent in
            if sent == 4_000 { workers += [(try? worker("w2", h, logs)), (try? worker("w3", h, logs))].compactMap { $0 } }
            if sent == 14_000 && !scaledDown {
                scaledDown = true
                for w in workers.suffix(2) {
                    let r = w.terminate()
                    #expect(r.status == 0, "\(w.id) exit \(r.status)")
                }
            }
        }
        let checks = RunChecks(h: h, workload: workload)
        let status = try await checks.waitForAllResults()
        let r = workers[0].terminate()
        #expect(r.status == 0, "w1 exit \(r.status): \(workers[0].output.suffix(2000))")
        _ = checks.checkDuplicatesIdentical(status)
        try checks.checkVersionsGapFree()
        try await checks.checkEqualsSingleWorkerReplay()
    }

    /// SIGTERM, and SIGHUP (a closed terminal, a supervisor's hang-up), stop gracefully.
    @Test(arguments: [SIGTERM, SIGHUP])
    func signalDuringLoadExitsCleanlyAndRestartRepublishesNothing(signal: Int32) async throws {
        let (h, logs, producer) = try setUp(partitions: 6)
        let workload = MixedWorkload(producer: producer, prefix: h.topics.prefix, workspaces: 60, seed: 13)
        var w = try worker("w1", h, logs)
        #expect(w.waitUntilAssigned())
        try workload.setUp(waitingOn: h)
        var exit: (status: Int32, seconds: Double)?
        try workload.run(count: 6_000, rate: 1_500) { sent in
            if sent == 3_000 && exit == nil {
                exit = w.terminate(within: 25, signal: signal)
                w = (try? worker("w1", h, logs)) ?? w
            }
        }
        let checks = RunChecks(h: h, workload: workload)
        let status = try await checks.waitForAllResults()
        let last = w.terminate()
        #expect(exit?.status == 0, "graceful exit: \(String(describing: exit))")
        #expect((exit?.seconds ?? 99) < 20, "within the 20 s bound")
        #expect(last.status == 0)
        #expect(checks.checkDuplicatesIdentical(status) == 0, "a graceful stop leaves nothing to re-publish")
        try checks.checkVersionsGapFree()
    }
}
