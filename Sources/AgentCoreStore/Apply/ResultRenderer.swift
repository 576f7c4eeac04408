import AgentCoreModel
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Serialises and compresses a batch's results rows (their events as canonical JSON, see
/// `PartitionStore.encodeResult` and `ResultCompression`) on the batch's helper thread
/// while the applying thread goes on with the next records: serialising depends only on
/// the outputs. The rows come back in submission order, byte for byte what serialising in
/// line gives.
///
/// The helper renders from the first row up. When the applying thread has applied the
/// whole batch (`finish`), it renders the rows the helper has not reached itself, from the
/// last row down, instead of waiting: the helper decodes the whole batch before it renders,
/// and often has not caught up by then. Each row is claimed once, by either thread.
final class ResultRenderer: @unchecked Sendable {
    private static let unclaimed: UInt8 = 0
    private static let claimed: UInt8 = 1
    private static let ready: UInt8 = 2

    private let inputs: UnsafeMutablePointer<[Outgoing]>
    private let rows: UnsafeMutablePointer<(stored: [UInt8], row: OutboxRow)>
    /// Per row: unclaimed → claimed → ready (release), by whichever thread claimed it.
    private let states: UnsafeMutablePointer<Atomic<UInt8>>
    private let capacity: Int
    /// Inputs written by the applying thread (release) and read by the helper (acquire).
    private let submitted = Atomic<Int>(0)
    private let closed = Atomic<Bool>(false)
    private let cancelled = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    /// Applying thread only.
    private var count = 0
    private var finished = false
    /// One per thread: an LZ4 stream is not thread safe.
    private let helperCompressor: ResultCompressor
    private let applyingCompressor: ResultCompressor

    /// A renderer for at most `capacity` rows. It starts no thread: the batch's
    /// `DecodeAhead` thread calls `run()` once it has decoded the batch (one helper thread
    /// per batch, not two: with two, the applying thread shared its core with one of them).
    init(capacity: Int, helperCompressor: ResultCompressor, applyingCompressor: ResultCompressor) {
        self.capacity = capacity
        self.helperCompressor = helperCompressor
        self.applyingCompressor = applyingCompressor
        let n = max(1, capacity)
        inputs = .allocate(capacity: n)
        rows = .allocate(capacity: n)
        states = .allocate(capacity: n)
        for i in 0..<n { (states + i).initialize(to: Atomic(Self.unclaimed)) }
    }

    private func claim(_ i: Int) -> Bool {
        states[i].compareExchange(expected: Self.unclaimed, desired: Self.claimed, ordering: .acquiringAndReleasing).exchanged
    }

    private func render(_ i: Int, with compressor: ResultCompressor) {
        (rows + i).initialize(to: PartitionStore.storedResult(inputs[i], compressor))
        states[i].store(Self.ready, ordering: .releasing)
    }

    /// Renders submitted rows from the first up until every row is claimed after `finish()`,
    /// or until `cancel()`; runs on the helper thread, once per renderer.
    func run() {
        var i = 0
        while !cancelled.load(ordering: .relaxed) {
            let n = submitted.load(ordering: .acquiring)
            while i < n && !cancelled.load(ordering: .relaxed) {
                if claim(i) { render(i, with: helperCompressor) }
                i += 1
            }
            if closed.load(ordering: .acquiring) && i == submitted.load(ordering: .acquiring) { break }
            wake.wait()
        }
    }

    /// Queues the outputs of the next row.
    func submit(_ outputs: [Outgoing]) {
        precondition(count < capacity && !finished, "ResultRenderer: more rows than its capacity")
        (inputs + count).initialize(to: outputs)
        count += 1
        submitted.store(count, ordering: .releasing)
        // A helper that caught up sleeps; waking it is a system call on this thread, so it
        // gets rows 64 at a time (every 16 cost about 2% of the applying thread with 100k
        // contexts, where the helper is ahead most of the time).
        if count % 64 == 0 { wake.signal() }
    }

    /// Renders what the helper has not claimed, waits for what it has, and returns every
    /// row in order (stored form, and its records ready to publish).
    func finish() -> [(stored: [UInt8], row: OutboxRow)] {
        precondition(!finished, "ResultRenderer.finish called twice")
        finished = true
        closed.store(true, ordering: .releasing)
        wake.signal()
        var j = count - 1
        // The helper claims from the front in order, so once a claim fails here every row
        // below is the helper's too.
        while j >= 0 && claim(j) {
            render(j, with: applyingCompressor)
            j -= 1
        }
        for k in 0..<count {
            var spins = 0
            while states[k].load(ordering: .acquiring) != Self.ready { pause(&spins) }  // one row at most
        }
        return Array(UnsafeBufferPointer(start: rows, count: count))
    }

    /// Stops the helper's rendering without waiting (the batch failed). Until this or
    /// `finish()` runs, `run()` waits for input: the helper thread would never end.
    func cancel() {
        guard !finished else { return }
        finished = true
        cancelled.store(true, ordering: .relaxed)
        closed.store(true, ordering: .releasing)
        wake.signal()
    }

    /// Runs once both the applying thread and the helper thread have let go of it.
    deinit {
        for i in 0..<count where states[i].load(ordering: .acquiring) == Self.ready {
            (rows + i).deinitialize(count: 1)
        }
        inputs.deinitialize(count: count)
        states.deinitialize(count: max(1, capacity))
        inputs.deallocate()
        rows.deallocate()
        states.deallocate()
    }
}
