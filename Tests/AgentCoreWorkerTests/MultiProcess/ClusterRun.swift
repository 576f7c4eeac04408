import AgentCoreClient
import AgentCoreKafka
import AgentCoreModel
import AgentCoreStore
import Foundation
import Logging
import Testing

@testable import AgentCoreWorker

/// Checks shared by the multi-process tests: every command answered, versions gap-free,
/// duplicates identical, and the stores equal to a single worker's over the same input.
struct RunChecks {
    let h: WorkerHarness
    let workload: MixedWorkload

    /// Waits until every command id has an event and every bad record a dead letter;
    /// returns the status records (raw, with duplicates).
    func waitForAllResults(seconds: Double = 180) async throws -> [KafkaRecord] {
        try await offPool { [self] in try waitForAllResultsBlocking(seconds: seconds) }
    }

    private func waitForAllResultsBlocking(seconds: Double) throws -> [KafkaRecord] {
        var o = ConsumerOptions(groupId: "check-\(UUID().uuidString)")
        o.sessionTimeout = .seconds(6)
        o.heartbeatInterval = .milliseconds(500)
        let c = try KafkaConsumer(config: h.kafka, options: o)
        defer { c.close() }
        try c.subscribe([h.topics.status, h.topics.heartbeats, h.topics.dlq])
        var status: [KafkaRecord] = []
        var answered = Set<String>()
        var deadLettered = Set<String>()
        let wanted = Set(workload.commandIds)
        let bad = Set(workload.badOffsets.get.keys)
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            for r in c.poll(maxRecords: 2000, timeoutMs: 200).records {
                guard let v = r.value else { continue }
                if r.topic == h.topics.dlq {
                    if let j = try? JSONParser.parse(v), let src = j["source"],
                        let t = src["topic"]?.stringValue, let p = src["partition"]?.intValue, let off = src["offset"]?.intValue
                    {
                        deadLettered.insert("\(t)/\(p)/\(off)")
                    }
                } else if let e = try? Event(bytes: v) {
                    status.append(r)
                    if let id = e.commandId { answered.insert(id) }
                }
            }
            if wanted.isSubset(of: answered) && bad.isSubset(of: deadLettered) { return status }
        }
        let missing = wanted.subtracting(answered)
        Issue.record(
            "\(missing.count) commands without result, e.g. \(missing.sorted().prefix(5)); dead letters missing: \(bad.subtracting(deadLettered).count)"
        )
        return status
    }

    /// Same id, same bytes; returns the number of duplicate records seen.
    func checkDuplicatesIdentical(_ status: [KafkaRecord]) -> Int {
        var byId: [String: [UInt8]] = [:]
        var dups = 0
        for r in status {
            guard let v = r.value, let e = try? Event(bytes: v) else { continue }
            if let prev = byId[e.id] {
                dups += 1
                #expect(prev == v, "event \(e.id) re-published with different bytes")
            } else {
                byId[e.id] = v
            }
        }
        return dups
    }

    /// Versions of every context are 1...current with no gap or duplicate.
    func checkVersionsGapFree() throws {
        var contexts = 0
        for p in 0..<h.partitions {
            let path = (h.dataDir as NSString).appendingPathComponent("partition-\(p).sqlite")
            let s = try PartitionStore(path: path, partition: Int32(p))
            defer { s.close() }
            for w in 0..<workload.workspaces where Murmur2.partition(forKey: "ws-\(w)", partitionCount: Int32(h.partitions)) == p {
                for c in try s.contexts(workspace: "ws-\(w)", project: "p\(w % 3)") {
                    contexts += 1
                    let versions = try s.versions(
                        workspace: "ws-\(w)",
                        project: "p\(w % 3)",
                        instanceId: c.instanceId,
                        name: c.name,
                        limit: 100_000
                    )
                    #expect(versions.map(\.version) == Array((1...c.currentVersion).reversed()), "\(c.id)")
                }
            }
        }
        #expect(contexts > 0)
    }

    /// Replays all input with one in-process worker into a fresh directory and compares dumps.
    func checkEqualsSingleWorkerReplay() async throws {
        let multi = try h.dump()
        let refDir = h.dataDir + "-reference"
        defer { try? FileManager.default.removeItem(atPath: refDir) }
        var total: Int64 = 0
        var o = ConsumerOptions(groupId: "wm-\(UUID().uuidString)")
        o.sessionTimeout = .seconds(6)
        let c = try KafkaConsumer(config: h.kafka, options: o)
        for t in h.topics.inputs {
            for p in 0..<h.partitions { total += try c.watermarks(TopicPartition(t, Int32(p))).high }
        }
        c.close()
        var cfg = h.configuration(id: "reference")
        cfg.groupId = "reference-\(UUID().uuidString)"
        cfg.dataDirectory = refDir
        cfg.store.historyLimit = 100_000
        // A replay of the input, not a restore from the changelog the run wrote.
        cfg.changelog = false
        cfg.store.changelog = false
        var logger = Logger(label: "reference")
        logger.logLevel = .warning
        let ref = Worker(configuration: cfg, bootstrap: h.cluster.bootstrapServers, logger: logger)
        let task = WorkerRun(ref)
        let done = await eventually(seconds: 180) {
            let s = ref.status
            return Int64(s.applied + s.rejected + s.deadLettered) >= total
        }
        #expect(done, "reference worker applied \(ref.status.applied) of \(total)")
        ref.stop()
        try await task.value()
        var refDump = ""
        for p in 0..<h.partitions {
            let path = (refDir as NSString).appendingPathComponent("partition-\(p).sqlite")
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let s = try PartitionStore(path: path, partition: Int32(p))
            refDump += try s.canonicalDump()
            s.close()
        }
        #expect(!multi.isEmpty)
        if multi != refDump {
            let a = multi.split(separator: "\n")
            let b = refDump.split(separator: "\n")
            let firstDiff = zip(a, b).first { $0 != $1 }
            Issue.record("dumps differ (\(a.count) vs \(b.count) lines); first difference: \(String(describing: firstDiff))")
        }
    }
}
