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
    @Test func fullDiskPausesPartitionsAndTheyResumeWhenSpaceReturns() async throws {
        let h = try WorkerHarness(partitions: 4)
        let mountPoint = h.dataDir + "-tmpfs"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: mountPoint) }
        func sh(_ args: [String]) throws -> Int32 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/mount")
            p.arguments = args
            try p.run()
            p.waitUntilExit()
            return p.terminationStatus
        }
        guard try sh(["-t", "tmpfs", "-o", "size=3m", "tmpfs", mountPoint]) == 0 else {
            Issue.record("cannot mount a tmpfs here (tests need root): the full-disk path is untested on this machine")
            return
        }
        defer {
            let u = Process()
            u.executableURL = URL(fileURLWithPath: "/bin/umount")
            u.arguments = [mountPoint]
            try? u.run()
            u.waitUntilExit()
        }
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
        let filled = eventually(seconds: 90) { w.status.partitionFailures > 0 }
        #expect(filled, "no partition reported out of service")
        let answeredBefore = Self.processed(w)
        #expect(answeredBefore < 3_000 + 8 + h.partitions)
        #expect(try sh(["-o", "remount,size=256m", mountPoint]) == 0)
        let total = 3_000 + 8 + h.partitions
        #expect(eventually(seconds: 120) { Self.processed(w) >= total }, "processed \(Self.processed(w)) of \(total)")
        // Every write answered exactly once (re-published copies carry the same id).
        let reader = try h.reader([h.topics.status])
        var answered: [String: Set<String>] = [:]
        _ = eventually(seconds: 60) {
            for r in reader.poll() where r.event.type == .contextVersionCreated || r.event.type == .commandRejected {
                if let id = r.event.commandId { answered[id, default: []].insert(r.event.id) }
            }
            return ids.allSatisfy { answered[$0] != nil }
        }
        #expect(ids.filter { answered[$0] == nil }.isEmpty, "unanswered writes")
        #expect(ids.allSatisfy { (answered[$0]?.count ?? 0) <= 1 }, "a write answered twice with different events")
        try await h.stopAll()
    }

    static func processed(_ w: Worker) -> Int {
        let s = w.status
        return s.applied + s.rejected + s.deadLettered
    }
}
