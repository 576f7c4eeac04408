import AgentCoreClient
import AgentCoreKafka
import AgentCoreModel
import AgentCoreStore
import Foundation
import Testing

@testable import AgentCoreWorker

/// Faults tied to one store take that partition out of service, never the worker (issue 15).
@Suite(.serialized) struct PartitionFaultTests {
    /// The data directory on a small tmpfs (tests run as root), loaded until full: the worker
    /// stays up; once the filesystem grows, every command is answered.
    @Test(.enabled(if: getuid() == 0, "mounts a tmpfs: run as root (CI does)"))
    func fullDiskPausesPartitionsAndTheyResumeWhenSpaceReturns() async throws {
        let h = try WorkerHarness(partitions: 4)
        let disk = try Tmpfs(path: h.dataDir + "-tmpfs", megabytes: 3)
        let mountPoint = disk.path
        let w = h.startWorker("w1") {
            $0.dataDirectory = mountPoint
            $0.restoreRetryMs = 500
        }
        let client = try h.client()
        var ids: [String] = []
        let filler = String(repeating: "y", count: 3_000)
        for wsn in 0..<8 {
            let c = Commands(workspace: "ws-\(wsn)", project: "p", actor: "t")
            if wsn == 0 { try await client.producer.enqueue(c.registerDefinition(slug: "d", name: "D", agentType: "t")) }
            try await client.producer.enqueue(c.spawn(definition: "d", name: "i", instanceId: "i"))
        }
        for n in 0..<3_000 {
            let c = Commands(workspace: "ws-\(n % 8)", project: "p", actor: "t")
            let e = c.writeContext(instanceId: "i", name: "c\(n % 40)", data: ["n": .int(Int64(n)), "f": .string(filler)])
            ids.append(e.id)
            try await client.producer.enqueue(e)
        }
        // The disk fills: partitions go out of service, the worker does not stop.
        let filled = await eventually(seconds: 90) { w.status.partitionFailures > 0 }
        #expect(filled, "no partition reported out of service")
        let answeredBefore = Self.processed(w)
        #expect(answeredBefore < 3_000 + 8 + h.partitions)
        #expect(try disk.resize(megabytes: 256))
        let total = 3_000 + 8 + h.partitions
        #expect(await eventually(seconds: 120) { Self.processed(w) >= total }, "processed \(Self.processed(w)) of \(total)")
        // Every write answered exactly once (re-published copies carry the same id).
        let reader = try h.reader([h.topics.status])
        var answered: [String: Set<String>] = [:]
        _ = await eventually(seconds: 60) {
            for r in reader.poll() where r.event.type == .contextVersionCreated || r.event.type == .commandRejected {
                if let id = r.event.commandId { answered[id, default: []].insert(r.event.id) }
            }
            return ids.allSatisfy { answered[$0] != nil }
        }
        #expect(ids.filter { answered[$0] == nil }.isEmpty, "unanswered writes")
        #expect(ids.allSatisfy { (answered[$0]?.count ?? 0) <= 1 }, "a write answered twice with different events")
        try await h.stopAll()
    }

    /// A new cluster under the same address and topic names (offsets back to 0): the
    /// partition stops instead of skipping the new records; the operator's flag starts it
    /// over on the new topic.
    @Test func inputThatGoesBackwardsStopsThePartitionUntilAccepted() async throws {
        let first = try WorkerHarness(partitions: 2)
        let dir = first.dataDir + "-a"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ws = Commands(workspace: "acme", project: "p", actor: "t")
        func load(_ h: WorkerHarness, writes: Int, tag: String, setUp: Bool = true) async throws {
            let client = try h.client()
            if setUp {
                try await client.producer.enqueue(ws.registerDefinition(slug: "d", name: "D", agentType: "t"))
                try await client.producer.enqueue(ws.spawn(definition: "d", name: "i", instanceId: "i"))
            }
            for n in 0..<writes {
                try await client.producer.enqueue(ws.writeContext(instanceId: "i", name: "c", data: ["n": .int(Int64(n))], id: "\(tag)-\(n)"))
            }
        }
        let w1 = first.startWorker("w1") { $0.dataDirectory = dir }
        try await load(first, writes: 60, tag: "a")
        #expect(await eventually(seconds: 60) { Self.processed(w1) >= 60 + 2 + 1 })
        try await first.stopAll()

        let second = try WorkerHarness(partitions: 2, prefix: first.topics.prefix)
        // Only writes on the new cluster: its context-writes topic holds 10 records where the
        // store applied 60. (Offsets are all there is to go by: a recreated topic that
        // already holds as many records as the store applied is not told apart.)
        try await load(second, writes: 10, tag: "b", setUp: false)
        let home = Murmur2.partition(forKey: "acme", partitionCount: 2)
        let w2 = second.startWorker("w1") { $0.dataDirectory = dir }
        #expect(await eventually(seconds: 60) { w2.status.failed[home] != nil }, "failed: \(w2.status.failed)")
        #expect(w2.status.failed[home]?.contains("accept-rewound-input") == true, "\(w2.status.failed)")
        try await Task.sleep(for: .seconds(1))
        #expect(w2.status.applied == 0 || w2.status.failed[home] != nil)
        #expect(w2.status.skipped == 0)
        try await second.stopAll()

        let w3 = second.startWorker("w1") {
            $0.dataDirectory = dir
            $0.acceptRewoundInput = true
        }
        #expect(await eventually(seconds: 60) { Self.processed(w3) >= 10 }, "processed \(Self.processed(w3))")
        try await second.stopAll()
        let store = try PartitionStore(path: (dir as NSString).appendingPathComponent("partition-\(home).sqlite"), partition: home)
        defer { store.close() }
        #expect(try store.context(workspace: "acme", project: "p", instanceId: "i", name: "c")?.currentVersion == 70)
    }

    static func processed(_ w: Worker) -> Int {
        let s = w.status
        return s.applied + s.rejected + s.deadLettered
    }
}
