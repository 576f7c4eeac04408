import Foundation

/// Runs blocking work (Kafka calls that wait, a flush) on a thread of its own, so that it
/// holds none of the cooperative pool's few threads.
package func offThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { c in
        let thread = Thread { c.resume(with: Result { try body() }) }
        thread.start()
    }
}

package func offThread(_ body: @escaping @Sendable () -> Void) async {
    await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
        let thread = Thread {
            body()
            c.resume()
        }
        thread.start()
    }
}
