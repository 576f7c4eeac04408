import AgentCoreClient
import AgentCoreKafka
import AgentCoreModel
import AgentCoreStore
import Foundation
import Logging
import Testing

@testable import AgentCoreWorker

/// Workers with separate data directories: every store is rebuilt from the changelog, never
/// from a shared disk or a replay of the input (issue 11).
@Suite(.serialized) struct StatelessWorkerTests {
    /// Sends writes for 8 workspaces (a definition and two instances each the first time);
    /// returns how many input records that is.
    static func load(_ h: WorkerHarness, _ client: AgentCoreClient, round: Int, writes: Int) async throws -> Int {
        var records = 0
        for w in 0..<8 {
            let c = Commands(workspace: "ws-\(w)", project: "p", actor: "t")
            if round == 0 {
                if w == 0 {
                    try await client.producer.enqueue(c.registerDefinition(slug: "d", name: "D", agentType: "t"))
                    records += h.partitions
                }
                // Applied before any write is sent: the writes are on the other input topic,
                // and under load a live merge could take a write before a lagging spawn,
                // which the reference replay (both streams complete) never does.
                for i in 0..<2 { _ = try await client.enqueueAndWait(c.spawn(definition: "d", name: "i\(i)", instanceId: "i\(i)")) }
                records += 2
            }
        }
        for n in 0..<writes {
            let w = n % 8
            let c = Commands(workspace: "ws-\(w)", project: "p", actor: "t")
            try await client.producer.enqueue(
                c.writeContext(instanceId: "i\(n % 2)", name: "ctx\(n % 3)", data: ["round": .int(Int64(round)), "n": .int(Int64(n))])
            )
            records += 1
        }
        return records
    }

    static func processed(_ w: Worker) -> Int {
        let s = w.status
        return s.applied + s.rejected + s.deadLettered
    }

    /// Event ids on the status topic that were published more than once.
    static func republishedIds(_ h: WorkerHarness, expected: Int) async throws -> Int {
        let records = try await h.readRaw(h.topics.status, seconds: 30) { $0.count >= expected }
        var seen = Set<[UInt8]>()
        var again = 0
        for r in records {
            guard let id = r.headers.first(where: { $0.key == WorkerEngine.eventIdHeader })?.value else { continue }
            if !seen.insert(id).inserted { again += 1 }
        }
        return again
    }

    /// `standbys = 1` with two workers on separate disks: each keeps warm copies of the
    /// other's partitions, so when one leaves, the other takes its partitions over reading
    /// only what came after its last pass (never a full restore), with the state intact.
    @Test func standbyCopiesMakeTakeoversReadOnlyTheTail() async throws {
        let h = try WorkerHarness(partitions: 4)
        let dirA = h.dataDir + "-sa"
        let dirB = h.dataDir + "-sb"
        defer { for d in [dirA, dirB] { try? FileManager.default.removeItem(atPath: d) } }
        let client = try h.client()
        defer { client.close() }
        let w1 = h.startWorker("w1") {
            $0.dataDirectory = dirA
            $0.standbys = 1
            $0.standbyIntervalMs = 200
        }
        let w2 = h.startWorker("w2") {
            $0.dataDirectory = dirB
            $0.standbys = 1
            $0.standbyIntervalMs = 200
        }
        #expect(
            await eventually(seconds: 90) { w1.status.states.count == 2 && w2.status.states.count == 2 },
            "\(w1.status.states) \(w2.status.states)"
        )
        let total = try await Self.load(h, client, round: 0, writes: 400)
        #expect(await eventually(seconds: 90) { Self.processed(w1) + Self.processed(w2) >= total })
        let theirs = Set(w2.status.states.keys)
        // w1's warm copies of w2's partitions exist on w1's disk.
        #expect(
            await eventually(seconds: 30) {
                theirs.allSatisfy { FileManager.default.fileExists(atPath: (dirA as NSString).appendingPathComponent("partition-\($0).sqlite")) }
            }
        )
        try await Task.sleep(for: .seconds(2))  // a few passes after the last write

        w2.stop()
        try await h.workers.first { $0.0 === w2 }!.1.value()
        #expect(
            await eventually(seconds: 90) { theirs.allSatisfy { p in w1.status.restores.contains { $0.partition == p } } },
            "\(w1.status.restores)"
        )
        for r in w1.status.restores where theirs.contains(r.partition) {
            #expect(r.report.kind != .full, "partition \(r.partition): \(r.report)")
        }
        // The taken-over state is whole: writes to every workspace apply (no not_found).
        let before = Self.processed(w1)
        let more = try await Self.load(h, client, round: 1, writes: 80)
        #expect(await eventually(seconds: 90) { Self.processed(w1) >= before + more })
        #expect(w1.status.rejected == 0)
        try await h.stopAll()
    }

    /// A rebalance in the middle of a restore: the restores are cancelled between chunks
    /// (what they applied stays in the store), and when a partition comes back to the same
    /// worker its restore resumes after what was applied instead of starting over. The
    /// stores end equal to the writer's.
    @Test func aRebalanceInTheMiddleOfARestoreResumesIt() async throws {
        let h = try WorkerHarness(partitions: 2)
        let dirs = ["-ra", "-rb", "-rc", "-rd"].map { h.dataDir + $0 }
        defer { for d in dirs { try? FileManager.default.removeItem(atPath: d) } }
        let client = try h.client()
        defer { client.close() }
        let w1 = h.startWorker("w1") { $0.dataDirectory = dirs[0] }
        let total = try await Self.load(h, client, round: 0, writes: 1_500)
        #expect(await eventually(seconds: 90) { Self.processed(w1) >= total }, "w1 processed \(Self.processed(w1)) of \(total)")
        try await h.stopAll()
        let reference = try h.dump(in: dirs[0])

        // w2 restores both partitions on an empty disk; the first restore of each holds
        // after 80 changelog rows (of about 800: a write makes about one, its version, plus
        // a results block per 32 commands) until a rebalance cancels it.
        let held: (inout WorkerConfiguration) -> Void = {
            $0.restoreChunkRows = 40
            $0.restoreHoldAfterRows = 80
        }
        let w2 = h.startWorker("w2") {
            $0.dataDirectory = dirs[1]
            held(&$0)
        }
        // (With w1's membership still counted for a session timeout, w2 may get one
        // partition first and both later: whatever is held is cut.)
        #expect(
            await eventually(seconds: 90) { w2.status.restoring.values.contains { $0.applied >= 80 } },
            "w2 restoring: \(w2.status.restoring)"
        )
        let cut = Set(w2.status.restoring.filter { $0.value.applied >= 80 }.keys)
        let finishedBefore = w2.status.restores.count
        // w3 joins: the group takes the partitions from w2 and shares them out.
        let w3 = h.startWorker("w3") {
            $0.dataDirectory = dirs[2]
            held(&$0)
        }
        #expect(await eventually(seconds: 90) { !w3.status.states.isEmpty }, "w3 never got a partition")
        // w3 leaves: w2 gets everything back and finishes every restore.
        w3.stop()
        try await h.workers.first { $0.0 === w3 }!.1.value()
        #expect(
            await eventually(seconds: 120) {
                let s = w2.status
                return s.states.count == 2 && s.states.values.allSatisfy { $0 == .active }
            },
            "w2 states \(w2.status.states), restores \(w2.status.restores)"
        )
        // The restores w2 finished after the cut, of partitions that were cut.
        let resumed = w2.status.restores.dropFirst(finishedBefore).filter { cut.contains($0.partition) }
        try await h.stopAll()
        #expect(try h.dump(in: dirs[1]) == reference)

        // A full restore of each partition by itself, for the row counts.
        let w4 = h.startWorker("w4") { $0.dataDirectory = dirs[3] }
        #expect(await eventually(seconds: 90) { w4.status.restores.count >= 2 })
        let full = Dictionary(w4.status.restores.map { ($0.partition, $0.report.rowsApplied) }, uniquingKeysWith: max)
        try await h.stopAll()
        // Each went on from what w2 had applied before the rebalance: fewer rows than a full
        // restore of the same partition.
        #expect(!resumed.isEmpty, "no restore of a cut partition \(cut) finished on w2")
        for r in resumed {
            let whole = full[r.partition] ?? 0
            #expect(whole > 300 && r.report.rowsApplied < whole, "partition \(r.partition): \(r.report.rowsApplied) rows, a full restore \(whole)")
        }
    }

    /// The zombie case only the group's record of claims shows (docs/changelog.md,
    /// *Fencing*): w1's last marker lands after w2's claim (it was on the wire when w1 was
    /// cut off), nothing newer follows it, and w1 comes back on the same disk with no
    /// `changelog_lost` note. The tail after its mark is empty; the claim recorded in the
    /// group, before that mark and of a newer epoch, gets the store moved aside and rebuilt,
    /// equal to w2's, and the new claim above w2's epoch.
    @Test func aZombiesLateMarkerIsCaughtByTheGroupsRecordOfClaims() async throws {
        let h = try WorkerHarness(partitions: 1)
        let dirs = ["-za", "-zb", "-zz"].map { h.dataDir + $0 }
        defer { for d in dirs { try? FileManager.default.removeItem(atPath: d) } }
        let client = try h.client()
        defer { client.close() }
        let w1 = h.startWorker("w1") { $0.dataDirectory = dirs[0] }
        let first = try await Self.load(h, client, round: 0, writes: 60)
        #expect(await eventually(seconds: 90) { Self.processed(w1) >= first })
        try await h.stopAll()
        // The zombie's disk: w1's store as it stood.
        try FileManager.default.copyItem(atPath: dirs[0], toPath: dirs[2])
        let w2 = h.startWorker("w2") { $0.dataDirectory = dirs[1] }
        let second = try await Self.load(h, client, round: 1, writes: 60)
        #expect(await eventually(seconds: 90) { Self.processed(w2) >= second })
        try await h.stopAll()
        let claim = try #require(try h.groupClaims()[0])
        #expect(claim.writer == "w2")
        // w1's late marker, after w2's claim and units; its store's mark moves to it.
        let path = (dirs[2] as NSString).appendingPathComponent("partition-0.sqlite")
        let zombie = try PartitionStore(path: path, partition: 0)
        let mark = try #require(try zombie.changelogMark())
        #expect(mark.epoch < claim.epoch && mark.offset < claim.offset)
        let producer = try KafkaProducer(config: h.kafka)
        let log = try KafkaChangelogLog(
            topic: h.topics.changelog,
            partition: 0,
            kafka: h.kafka,
            producer: producer,
            workerId: "test",
            isCancelled: { false },
            logger: Logger(label: "test.changelog")
        )
        let late = try log.append(.marker(epoch: mark.epoch, writer: "w1", position: try zombie.changelogPosition()))
        try zombie.acknowledgeChangelog(through: 0, epoch: mark.epoch, offset: late)
        zombie.close()
        producer.close()
        // w1 back on that disk: rebuilt, not kept.
        let back = h.startWorker("w1") { $0.dataDirectory = dirs[2] }
        #expect(await eventually(seconds: 90) { back.status.restores.contains { $0.report.kind == .full } }, "restores: \(back.status.restores)")
        #expect(back.status.restores.allSatisfy { $0.report.kind != .keptLocal })
        #expect(back.status.restores.last.map { $0.report.epoch > claim.epoch } == true)
        try await h.stopAll()
        let aside = try FileManager.default.contentsOfDirectory(atPath: dirs[2]).filter { $0.hasPrefix("partition-0.sqlite.damaged-") }
        #expect(!aside.isEmpty)
        #expect(try h.dump(in: dirs[2]) == h.dump(in: dirs[1]))
    }

    @Test func emptyDiskRestoresFromTheChangelogReadingNoInputBelow() async throws {
        let h = try WorkerHarness(partitions: 4)
        let dirA = h.dataDir + "-a"
        let dirB = h.dataDir + "-b"
        let dirRef = h.dataDir + "-ref"
        defer { for d in [dirA, dirB, dirRef] { try? FileManager.default.removeItem(atPath: d) } }
        let client = try h.client()
        let w1 = h.startWorker("w1") { $0.dataDirectory = dirA }
        var total = try await Self.load(h, client, round: 0, writes: 400)
        #expect(await eventually(seconds: 90) { Self.processed(w1) >= total }, "w1 processed \(Self.processed(w1)) of \(total)")
        try await h.stopAll()
        let firstTotal = total
        let statusEvents = try await h.readRaw(h.topics.status, seconds: 20) { $0.count >= firstTotal - h.partitions + 1 }.count

        // A worker with an empty disk takes over: every partition from the changelog.
        let w2 = h.startWorker("w2") { $0.dataDirectory = dirB }
        #expect(await eventually(seconds: 90) { w2.status.restores.count >= h.partitions }, "restores: \(w2.status.restores)")
        #expect(w2.status.restores.allSatisfy { $0.report.kind == .full })
        #expect(w2.status.restores.reduce(0) { $0 + $1.report.rowsApplied } > 400)
        // Each claim is recorded in the group (what a restore checks a store's mark against).
        let claims = try h.groupClaims()
        for r in w2.status.restores {
            #expect(claims[r.partition] == GroupClaim(epoch: r.report.epoch, offset: r.report.claimOffset, writer: "w2"), "partition \(r.partition)")
        }
        try await Task.sleep(for: .seconds(1))
        // No input below the restored offsets was read: nothing skipped, nothing applied.
        #expect(w2.status.skipped == 0)
        #expect(Self.processed(w2) == 0)
        let more = try await Self.load(h, client, round: 1, writes: 200)
        #expect(await eventually(seconds: 90) { Self.processed(w2) >= more }, "w2 processed \(Self.processed(w2)) of \(more)")
        total += more
        try await h.stopAll()
        #expect(w2.status.skipped == 0)
        // Nothing published twice: w1 stopped cleanly and its last marker recorded every
        // acknowledgement.
        #expect(try await Self.republishedIds(h, expected: statusEvents + more) == 0)

        // The same input replayed by one worker without the changelog gives the same stores.
        let ref = h.startWorker("ref") {
            $0.dataDirectory = dirRef
            $0.groupId = "ref-\(UUID().uuidString)"
            $0.changelog = false
            $0.store.changelog = false
        }
        #expect(await eventually(seconds: 90) { Self.processed(ref) >= total }, "reference processed \(Self.processed(ref)) of \(total)")
        try await h.stopAll()
        let restored = try h.dump(in: dirB)
        #expect(!restored.isEmpty)
        let reference = try h.dump(in: dirRef)
        let firstDifference = zip(restored.split(separator: "\n"), reference.split(separator: "\n")).first { $0 != $1 }
        #expect(restored == reference, "first differing line: \(String(describing: firstDifference))")
    }

    @Test func intactStoreGetsOnlyTheTailAndDamagedStoresAreRebuilt() async throws {
        let h = try WorkerHarness(partitions: 4)
        let dirA = h.dataDir + "-a"
        let dirB = h.dataDir + "-b"
        defer { for d in [dirA, dirB] { try? FileManager.default.removeItem(atPath: d) } }
        let client = try h.client()
        let w1 = h.startWorker("w1") { $0.dataDirectory = dirA }
        let first = try await Self.load(h, client, round: 0, writes: 300)
        #expect(await eventually(seconds: 90) { Self.processed(w1) >= first })
        try await h.stopAll()
        let w2 = h.startWorker("w2") { $0.dataDirectory = dirB }
        let second = try await Self.load(h, client, round: 1, writes: 300)
        #expect(await eventually(seconds: 90) { Self.processed(w2) >= second })
        try await h.stopAll()
        let reference = try h.dump(in: dirB)

        // w1 comes back to its own disk: it applies only what w2 wrote since.
        let w1again = h.startWorker("w1") { $0.dataDirectory = dirA }
        #expect(await eventually(seconds: 90) { w1again.status.restores.count >= h.partitions })
        #expect(w1again.status.restores.allSatisfy { $0.report.kind == .appliedTail })
        try await Task.sleep(for: .seconds(1))
        #expect(Self.processed(w1again) == 0)
        try await h.stopAll()
        #expect(try h.dump(in: dirA) == reference)

        // Damaged files: one truncated, one with garbage in the middle. Both are moved aside
        // and rebuilt; the worker never stops.
        let truncated = (dirA as NSString).appendingPathComponent("partition-1.sqlite")
        let garbled = (dirA as NSString).appendingPathComponent("partition-2.sqlite")
        let size = try FileManager.default.attributesOfItem(atPath: truncated)[.size] as! Int
        let t = try FileHandle(forWritingTo: URL(fileURLWithPath: truncated))
        try t.truncate(atOffset: UInt64(size / 2))
        try t.close()
        let gsize = try FileManager.default.attributesOfItem(atPath: garbled)[.size] as! Int
        let g = try FileHandle(forWritingTo: URL(fileURLWithPath: garbled))
        try g.seek(toOffset: UInt64(max(4096, gsize / 2 / 4096 * 4096)))
        try g.write(contentsOf: Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }))
        try g.close()
        // An unclean stop's WAL makes the worker check the store before trusting it.
        FileManager.default.createFile(atPath: garbled + "-wal", contents: Data([0]))
        let w1fixed = h.startWorker("w1") { $0.dataDirectory = dirA }
        #expect(await eventually(seconds: 90) { w1fixed.status.restores.count >= h.partitions })
        let kinds = Dictionary(uniqueKeysWithValues: w1fixed.status.restores.map { ($0.partition, $0.report.kind) })
        #expect(kinds[1] == .full)
        #expect(kinds[2] == .full)
        let aside = try FileManager.default.contentsOfDirectory(atPath: dirA).filter { $0.contains(".damaged-") }
        #expect(aside.contains { $0.hasPrefix("partition-1.sqlite.damaged-") })
        #expect(aside.contains { $0.hasPrefix("partition-2.sqlite.damaged-") })
        try await h.stopAll()
        #expect(try h.dump(in: dirA) == reference)
    }
}
