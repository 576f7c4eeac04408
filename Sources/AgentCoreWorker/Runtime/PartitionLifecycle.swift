/// Where one owned partition stands, as a value with pure transitions (the loop runs the
/// side effects: starting a restore thread, pausing and resuming input). Times are uptime
/// nanoseconds passed in, so the transitions are tested without a clock or a broker.
///
///     active ──(store error)──▶ failed ──(retry due)──▶ restoring ──(done)──▶ active
///                                  ▲                        │
///                                  └──(restore failed)──────┘
///
/// A lane starts `active` (changelog off) or goes `restoring` at once (changelog on).
struct PartitionLifecycle: Equatable {
    enum State: Equatable {
        case active
        case restoring
        /// Out of service: input paused until `retryAt` (`UInt64.max`: until an operator acts).
        case failed(reason: String, retryAt: UInt64)
    }

    private(set) var state = State.active
    /// Failures in a row; the retry delay doubles with each.
    private(set) var failures = 0
    /// First retry delay, ms (`WorkerConfiguration.restoreRetryMs`).
    let baseRetryMs: Int

    init(baseRetryMs: Int) { self.baseRetryMs = baseRetryMs }

    /// The same failure count in a fresh lane (a lane replaced after a store error).
    init(carrying other: PartitionLifecycle) {
        baseRetryMs = other.baseRetryMs
        failures = other.failures
    }

    /// Applying input.
    var isActive: Bool { state == .active }

    var failure: (reason: String, retryAt: UInt64)? {
        if case .failed(let reason, let at) = state { return (reason, at) }
        return nil
    }

    /// The delay before retry number `failures`: `base × 2^(failures − 1)`, at most 5 minutes
    /// (or `base`, when that is longer).
    static func retryDelayMs(base: Int, failures: Int) -> Int {
        min(base << min(max(failures - 1, 0), 16), max(base, 300_000))
    }

    mutating func restoreStarted() { state = .restoring }

    mutating func restoreSucceeded() {
        state = .active
        failures = 0
    }

    /// Back in service without a restore (changelog off): the failure count stays, so a
    /// partition that fails again at once backs off further.
    mutating func resumed() { state = .active }

    /// Out of service; returns the retry delay in ms (nil: no retry).
    @discardableResult
    mutating func failed(_ reason: String, now: UInt64, retry: Bool = true) -> Int? {
        failures += 1
        guard retry else {
            state = .failed(reason: reason, retryAt: UInt64.max)
            return nil
        }
        let delay = Self.retryDelayMs(base: baseRetryMs, failures: failures)
        state = .failed(reason: reason, retryAt: now + UInt64(delay) * 1_000_000)
        return delay
    }

    /// Whether a failed partition's retry is due at `now`.
    func retryDue(now: UInt64) -> Bool {
        if case .failed(_, let at) = state { return now >= at }
        return false
    }
}
