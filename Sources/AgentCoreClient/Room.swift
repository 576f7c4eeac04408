import Foundation
import Synchronization

/// A counting semaphore that may be dropped while slots are taken. A `DispatchSemaphore`
/// traps when it is deallocated with a value below its initial one (a consumer that stops
/// while events are still buffered); this one gives the slots back first.
package final class Room: Sendable {
    private let semaphore: DispatchSemaphore
    private let taken = Atomic<Int>(0)

    package init(slots: Int) { semaphore = DispatchSemaphore(value: max(1, slots)) }

    deinit { for _ in 0..<max(0, taken.load(ordering: .acquiring)) { semaphore.signal() } }

    /// Takes a slot, waiting up to `timeout`; false when none came free in time.
    package func take(timeout: DispatchTime = .distantFuture) -> Bool {
        guard semaphore.wait(timeout: timeout) == .success else { return false }
        taken.add(1, ordering: .acquiringAndReleasing)
        return true
    }

    /// Gives a slot back.
    package func give() {
        taken.subtract(1, ordering: .acquiringAndReleasing)
        semaphore.signal()
    }
}
