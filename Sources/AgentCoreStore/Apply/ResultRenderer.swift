import AgentCoreModel
import Dispatch
import Foundation
import Synchronization

/// Serialises and compresses a batch's results rows (their events as canonical JSON, see
/// `PartitionStore.encodeResult` and `ResultCompression`) on a thread of its own while the applying thread goes on
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
    /// Lent by the store for the batch: only this renderer's thread uses it until `done`.
    private let compressor: ResultCompressor

    /// A renderer for at most `capacity` rows. It starts no thread: the batch's
    /// `DecodeAhead` thread calls `run()` once it has decoded the batch (one helper thread
    /// per batch, not two: with two, the applying thread shared its core with one of them).
    init(capacity: Int, compressor: ResultCompressor) {
        self.capacity = capacity
        self.compressor = compressor
        inputs = .allocate(capacity: max(1, capacity))
        rows = .allocate(capacity: max(1, capacity))
    }

    /// Renders submitted rows until `finish()` or `cancel()`; runs on the helper thread,
    /// exactly once per renderer (`finish` and `cancel` wait for it to return).
    func run() {
        var i = 0
        while true {
            let n = submitted.load(ordering: .acquiring)
            while i < n {
                (rows + i).initialize(to: compressor.compress(PartitionStore.encodeResult(inputs[i])))
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

    /// Stops rendering without inserting anything (the batch failed). Until this or
    /// `finish()` runs, `run()` waits for input: the helper thread would never end.
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
