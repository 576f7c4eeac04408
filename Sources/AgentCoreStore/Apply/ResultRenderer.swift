import AgentCoreModel
import Dispatch
import Foundation
import Synchronization

/// Serialises a batch's results rows (their events as canonical JSON, see
/// `PartitionStore.encodeResult`) on a thread of its own while the applying thread goes on
/// with the next records: serialising depends only on the outputs, and was about a fifth
/// of the applying thread's time. The rows come back in submission order, byte for byte
/// what serialising in line gives.
final class ResultRenderer: @unchecked Sendable {
    private let inputs: UnsafeMutablePointer<[Outgoing]>
    private let rows: UnsafeMutablePointer<[UInt8]>
    private let capacity: Int
    /// Inputs written by the applying thread (release) and read by the renderer (acquire).
    private let submitted = Atomic<Int>(0)
    private let closed = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    /// Applying thread only.
    private var count = 0
    private var finished = false
    /// Written by the renderer before `done` is signalled.
    private var rendered = 0

    /// A renderer for at most `capacity` rows, on a thread of its own (not a dispatch
    /// queue: it waits for input, and must run even when every pool thread is busy).
    init(capacity: Int) {
        self.capacity = capacity
        inputs = .allocate(capacity: max(1, capacity))
        rows = .allocate(capacity: max(1, capacity))
        let thread = Thread { [self] in run() }
        thread.name = "agentcore-render"
        thread.start()
    }

    private func run() {
        var i = 0
        while true {
            let n = submitted.load(ordering: .acquiring)
            while i < n {
                (rows + i).initialize(to: PartitionStore.encodeResult(inputs[i]))
                i += 1
            }
            if closed.load(ordering: .acquiring) && i == submitted.load(ordering: .acquiring) { break }
            wake.wait()
        }
        rendered = i
        done.signal()
    }

    /// Queues the outputs of the next row.
    func submit(_ outputs: [Outgoing]) {
        precondition(count < capacity && !finished, "ResultRenderer: more rows than its capacity")
        (inputs + count).initialize(to: outputs)
        count += 1
        submitted.store(count, ordering: .releasing)
        if count % 16 == 0 { wake.signal() }
    }

    /// Waits for every submitted row and returns them in order.
    func finish() -> [[UInt8]] {
        close()
        return Array(UnsafeBufferPointer(start: rows, count: rendered))
    }

    /// Stops the thread without inserting anything (the batch failed). Until this or
    /// `finish()` runs, the thread holds the renderer: a renderer dropped without either
    /// would wait for input forever.
    func cancel() { close() }

    private func close() {
        guard !finished else { return }
        finished = true
        closed.store(true, ordering: .releasing)
        wake.signal()
        done.wait()
    }

    deinit {
        close()
        inputs.deinitialize(count: count)
        rows.deinitialize(count: rendered)
        inputs.deallocate()
        rows.deallocate()
    }
}
