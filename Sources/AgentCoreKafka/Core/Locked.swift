import Foundation

/// A value behind a lock that closures may capture (unlike the non-copyable `Mutex`).
/// Used for counters and flags shared with librdkafka callbacks and helper threads.
public final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T

    public init(_ value: T) { self.value = value }

    public func withLock<R>(_ body: (inout T) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    /// A copy of the current value.
    public var get: T { withLock { $0 } }
}
