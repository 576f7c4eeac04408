import AgentCoreClient
import AgentCoreKafka
import AgentCoreModel
import AgentCoreStore
import Foundation
import Logging
import Testing

@testable import AgentCoreWorker

/// Issue 11's acceptance tests with real `agentcore worker` processes, each on its own data
/// directory (separate disks): a worker killed with its disk lost, a zombie, and in the end
/// one new worker with an empty disk that rebuilds every partition from the changelog alone.
/// Slow (about a minute each): `swift test --filter MultiProcess`.
@Suite(.serialized) struct MultiProcessStatelessTests {
    func worker(_ id: String, _ h: WorkerHarness, _ logs: URL, dir: String) throws -> WorkerProcess {
        try WorkerProcess(
            id: id,
            brokers: h.cluster.bootstrapServers,
            prefix: h.topics.prefix,
            dataDir: dir,
            logDir: logs,
            extra: MultiProcessWorkerTests.mpArgs
        )
    }

    /// After the run: one new worker on the (empty) harness directory restores every
    /// partition from the changelog; its stores are what the checks read.
    func restoreEverythingOnAnEmptyDisk(_ h: WorkerHarness, _ logs: URL) throws {
        let last = try worker("final", h, logs, dir: h.dataDir)
        let restored = last.waitForLog("restored (full)", count: h.partitions, seconds: 120)
        #expect(restored, "final worker: \(last.output.suffix(3000))")
        #expect(!last.output.contains("at or below the store's applied offset"), "input below the restored offsets was read")
        let r = last.terminate()
        #expect(r.status == 0)
    }

    /// Changelog rows and markers written under an epoch older than a claim before them: a
    /// zombie's writes that landed after another worker took its partition over. Restores
    /// ignore them, but compaction could let one replace the rightful row of its key.
    func zombieEntriesAfterClaims(_ h: WorkerHarness) throws -> [String] {
        let producer = try KafkaProducer(config: h.kafka)
        var found: [String] = []
        for p in 0..<Int32(h.partitions) {
            let log = try KafkaChangelogLog(
                topic: h.topics.changelog,
                partition: p,
                kafka: h.kafka,
                producer: producer,
                workerId: "check",
                isCancelled: { false },
                logger: Logger(label: "check")
            )
            let (low, high) = try log.bounds()
            var claim: Int64 = 0
            try log.read(from: low, until: high) { chunk in
                for (offset, entry) in chunk {
                    switch entry {
                    case .claim(let epoch, _, _, _): claim = max(claim, epoch)
                    case .row(_, _, let epoch), .marker(let epoch, _, _):
                        if epoch < claim { found.append("partition \(p) offset \(offset): epoch \(epoch) after a claim at \(claim)") }
                    }
                }
                return true
            }
        }
        return found
    }

    @Test func sigkillWithItsDiskLostThenEmptyDisksTakeOver() async throws {
        let (h, logs, producer) = try MultiProcessWorkerTests().setUp()
        let workload = MixedWorkload(producer: producer, prefix: h.topics.prefix, workspaces: 200, seed: 21)
        var workers = try (1...3).map { try worker("w\($0)", h, logs, dir: h.dataDir + "-w\($0)") }
        defer { for i in 1...4 { try? FileManager.default.removeItem(atPath: h.dataDir + "-w\(i)") } }
        for w in workers { #expect(w.waitUntilAssigned()) }
        try workload.setUp(waitingOn: h)
        var killed = false
        try workload.run(count: 16_000, rate: 2_000) { sent in
            if sent == 5_000 && !killed {
                workers[1].kill9()
                try? FileManager.default.removeItem(atPath: h.dataDir + "-w2")  // its disk is gone
                killed = true
            }
            if sent == 7_000 { workers[1] = (try? worker("w4", h, logs, dir: h.dataDir + "-w4")) ?? workers[1] }
        }
        let checks = RunChecks(h: h, workload: workload)
        let status = try await checks.waitForAllResults()
        for w in workers {
            let r = w.terminate()
            #expect(r.status == 0, "\(w.id) exit \(r.status): \(w.output.suffix(2000))")
        }
        #expect(workers[1].output.contains("restored (full)"), "the empty-disk worker restored from the changelog")
        let dups = checks.checkDuplicatesIdentical(status)
        // Re-published: at most what the killed worker had not yet recorded as acknowledged
        // (its last rounds), never the partitions' history.
        #expect(dups < 1_000, "\(dups) events published again")
        print("stateless sigkill run: \(status.count) status records, \(dups) published again (same id, same bytes)")
        try restoreEverythingOnAnEmptyDisk(h, logs)
        try checks.checkVersionsGapFree()
        try await checks.checkEqualsSingleWorkerReplay()
    }

    @Test func zombieStoppedPastItsSessionThenResumed() async throws {
        let (h, logs, producer) = try MultiProcessWorkerTests().setUp(partitions: 6)
        let workload = MixedWorkload(producer: producer, prefix: h.topics.prefix, workspaces: 60, seed: 22)
        let workers = try (1...2).map { try worker("w\($0)", h, logs, dir: h.dataDir + "-w\($0)") }
        defer { for i in 1...2 { try? FileManager.default.removeItem(atPath: h.dataDir + "-w\(i)") } }
        for w in workers { #expect(w.waitUntilAssigned()) }
        try workload.setUp(waitingOn: h)
        try workload.run(count: 14_000, rate: 1_500) { sent in
            if sent == 3_000 { workers[0].pause() }  // past the 6 s session timeout of the mock timings
            if sent == 13_000 { workers[0].resume() }
        }
        let checks = RunChecks(h: h, workload: workload)
        let status = try await checks.waitForAllResults()
        for w in workers {
            let r = w.terminate()
            #expect(r.status == 0, "\(w.id) exit \(r.status): \(w.output.suffix(2000))")
        }
        _ = checks.checkDuplicatesIdentical(status)
        // The zombie knew it had been stopped past its session and published nothing
        // until the group answered; what it had queued before the stop expired.
        #expect(workers[0].output.contains("did not run for"), "w1: \(workers[0].output.suffix(3000))")
        let late = try zombieEntriesAfterClaims(h)
        #expect(late.isEmpty, "\(late.count) zombie entries after a claim: \(late.prefix(5))")
        try restoreEverythingOnAnEmptyDisk(h, logs)
        try checks.checkVersionsGapFree()
        try await checks.checkEqualsSingleWorkerReplay()
    }
}
