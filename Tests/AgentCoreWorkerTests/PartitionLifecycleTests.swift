import Foundation
import Testing

@testable import AgentCoreWorker

/// The partition lifecycle's transitions with an injected clock: no broker, no threads.
@Suite struct PartitionLifecycleTests {
    static let second: UInt64 = 1_000_000_000

    @Test func restoreThenFailuresBackOffAndSuccessResets() {
        var l = PartitionLifecycle(baseRetryMs: 10_000)
        #expect(l.isActive)
        l.restoreStarted()
        #expect(l.state == .restoring && !l.isActive)
        l.restoreSucceeded()
        #expect(l.isActive)
        // A full disk: out of service, retried after 10 s, then 20 s, 40 s, ...
        var now: UInt64 = 1_000 * Self.second
        var delays: [Int?] = []
        for _ in 0..<7 {
            delays.append(l.failed("disk full", now: now))
            #expect(!l.retryDue(now: now))
            #expect(l.failure?.reason == "disk full")
            now = l.failure!.retryAt
            #expect(l.retryDue(now: now))
            l.restoreStarted()
        }
        #expect(delays == [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000])
        // A restore that succeeds starts the count over.
        l.restoreSucceeded()
        #expect(l.failures == 0)
        #expect(l.failed("again", now: now) == 10_000)
    }

    @Test func noRetryWaitsForTheOperatorAndAFreshLaneKeepsTheCount() {
        var l = PartitionLifecycle(baseRetryMs: 1_000)
        #expect(l.failed("input rewound", now: 0, retry: false) == nil)
        #expect(!l.retryDue(now: UInt64.max - 1))
        var m = PartitionLifecycle(baseRetryMs: 1_000)
        m.failed("x", now: 0)
        m.failed("x", now: 0)
        let fresh = PartitionLifecycle(carrying: m)
        #expect(fresh.isActive && fresh.failures == 2)
        var f = fresh
        #expect(f.failed("x", now: 0) == 4_000)
        // Back without a restore (changelog off): active, the count kept.
        f.resumed()
        #expect(f.isActive && f.failures == 3)
        // A base above five minutes is the cap itself.
        #expect(PartitionLifecycle.retryDelayMs(base: 600_000, failures: 5) == 600_000)
    }
}

/// The data-directory lock: workers without standbys share a directory; one with standbys
/// has it alone.
@Suite struct DataDirectoryLockTests {
    @Test func sharedLocksCoexistAndAnExclusiveOneExcludes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("agentcore-lock-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = WorkerEngine.lockDirectory(dir, exclusive: false)
        let b = WorkerEngine.lockDirectory(dir, exclusive: false)
        #expect(a >= 0 && b >= 0)
        #expect(WorkerEngine.lockDirectory(dir, exclusive: true) < 0)
        close(a)
        close(b)
        let x = WorkerEngine.lockDirectory(dir, exclusive: true)
        #expect(x >= 0)
        #expect(WorkerEngine.lockDirectory(dir, exclusive: false) < 0)
        close(x)
    }
}
