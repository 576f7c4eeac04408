import Foundation
import Logging
import Testing

@testable import AgentCoreWorker

/// Store copies left behind by partitions that moved away are removed once a restore would
/// not trust them anyway; stores in use, recent ones and files set aside are kept.
struct StaleStoresTests {
    static func makeDir() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("agentcore-stale-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func touch(_ path: String, hoursAgo: Double) throws {
        FileManager.default.createFile(atPath: path, contents: Data([1, 2, 3]))
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-hoursAgo * 3_600)], ofItemAtPath: path)
    }

    @Test func findsOnlyOldStoresOfPartitionsNotInUse() throws {
        let dir = try Self.makeDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let at = { (name: String) in (dir as NSString).appendingPathComponent(name) }
        try Self.touch(at("partition-1.sqlite"), hoursAgo: 30)  // stale, with its WAL
        try Self.touch(at("partition-1.sqlite-wal"), hoursAgo: 29)
        try Self.touch(at("partition-2.sqlite"), hoursAgo: 30)  // old, but in use
        try Self.touch(at("partition-3.sqlite"), hoursAgo: 1)  // recent
        try Self.touch(at("partition-4.sqlite"), hoursAgo: 30)  // its WAL was written recently
        try Self.touch(at("partition-4.sqlite-wal"), hoursAgo: 0.5)
        try Self.touch(at("partition-5.sqlite.damaged-20260101T000000Z"), hoursAgo: 300)  // the operator's
        try Self.touch(at("partition-x.sqlite"), hoursAgo: 300)  // not a store name
        try Self.touch(at("notes.txt"), hoursAgo: 300)
        let cutoff = Date().addingTimeInterval(-12 * 3_600)
        let found = StaleStores.find(in: dir, inUse: [2], modifiedBefore: cutoff)
        #expect(found.map(\.partition) == [1])
        #expect(Set(found.first?.files ?? []) == [at("partition-1.sqlite"), at("partition-1.sqlite-wal")])

        var logger = Logger(label: "test")
        logger.logLevel = .critical
        StaleStores.remove(in: dir, inUse: [2], maxAgeMillis: 12 * 3_600_000, logger: logger)
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: dir))
        #expect(
            left == [
                "partition-2.sqlite", "partition-3.sqlite", "partition-4.sqlite", "partition-4.sqlite-wal",
                "partition-5.sqlite.damaged-20260101T000000Z", "partition-x.sqlite", "notes.txt",
            ]
        )
    }

    /// A worker alone on its directory removes stale copies when it starts (before it
    /// opens any store), and keeps what is recent.
    @Test func aWorkerRemovesStaleCopiesAtStart() async throws {
        let h = try WorkerHarness(partitions: 2)
        try FileManager.default.createDirectory(atPath: h.dataDir, withIntermediateDirectories: true)
        let at = { (name: String) in (h.dataDir as NSString).appendingPathComponent(name) }
        try Self.touch(at("partition-7.sqlite"), hoursAgo: 20)
        try Self.touch(at("partition-7.sqlite-shm"), hoursAgo: 20)
        try Self.touch(at("partition-6.sqlite"), hoursAgo: 2)
        let w = h.startWorker("w1") { $0.localStoreMaxAgeHours = 12 }
        #expect(await eventually(seconds: 60) { w.status.partitions.count == 2 }, "partitions: \(w.status.partitions)")
        try await h.stopAll()
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: h.dataDir))
        #expect(!left.contains("partition-7.sqlite") && !left.contains("partition-7.sqlite-shm"))
        #expect(left.contains("partition-6.sqlite"))
        #expect(left.contains("partition-0.sqlite") && left.contains("partition-1.sqlite"))
    }

    /// A worker with standbys (it holds its directory alone) also removes them as they
    /// age while it runs, never the stores it owns.
    @Test func aWorkerWithStandbysRemovesStaleCopiesWhileRunning() async throws {
        let h = try WorkerHarness(partitions: 2)
        let w = h.startWorker("w1") {
            $0.standbys = 1
            $0.staleStoreSweepMs = 200
        }
        #expect(await eventually(seconds: 60) { w.status.partitions.count == 2 }, "partitions: \(w.status.partitions)")
        let at = { (name: String) in (h.dataDir as NSString).appendingPathComponent(name) }
        // The worker's own stores, idle for a day as far as their files tell, stay.
        for p in 0..<2 {
            try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-86_400)], ofItemAtPath: at("partition-\(p).sqlite"))
        }
        try Self.touch(at("partition-5.sqlite"), hoursAgo: 20)
        #expect(await eventually(seconds: 30) { !FileManager.default.fileExists(atPath: at("partition-5.sqlite")) })
        try await Task.sleep(for: .milliseconds(500))
        #expect(FileManager.default.fileExists(atPath: at("partition-0.sqlite")) && FileManager.default.fileExists(atPath: at("partition-1.sqlite")))
        try await h.stopAll()
    }
}
