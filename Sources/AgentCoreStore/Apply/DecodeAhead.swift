import AgentCoreModel
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A record decoded: a command (with its typed payload or the rejection of it) or the
/// reason it is a dead letter.
enum Decoded: Sendable, Equatable {
    case deadLetter(DeadLetterError)
    case command(CommandEnvelope, Result<Command, CommandRejection>, replica: Bool, prepared: Prepared)
}

/// What can be worked out from a command alone, done while decoding (off the applying thread).
struct Prepared: Sendable, Equatable {
    /// Idempotency key: hash of workspace and command id.
    var hkey: Int64
    /// The envelope's command type, if it names one.
    var commandType: CommandType?
    /// `PartitionStore.headKey` of the context a context command names.
    var headKey: HeadKey?
}

/// Decodes a batch's records on another thread, ahead of the thread applying them.
/// Decoding depends only on each record's bytes, so it runs beside the SQLite work of the
/// records before it instead of before it (it was about an eighth of apply time). The
/// result is the same as decoding in line.
///
/// Each record is decoded once, by whichever thread claims it first: when the applying
/// thread reaches a record the helper has not started (the helper lost its core to the
/// kernel's writeback, say), it decodes that record itself instead of waiting.
///
/// Once it has been through the batch, the same thread renders the batch's results rows
/// (`ResultRenderer.run`), so the batch has one helper thread beside the applying one.
///
/// Small batches are decoded in line (handing them to another thread costs more).
final class DecodeAhead: @unchecked Sendable {
    static let minimumBatch = 32

    private static let unclaimed: UInt8 = 0
    private static let claimed: UInt8 = 1
    private static let ready: UInt8 = 2
    private static let taken: UInt8 = 3

    private let records: [InputRecord]
    private let decoder: CommandDecoder
    private let partitionCount: Int32?
    private let slots: UnsafeMutablePointer<Decoded>
    /// Per record: unclaimed → claimed → ready (helper, release) → taken, or unclaimed →
    /// claimed by the applying thread, which decodes it in line.
    private let states: UnsafeMutablePointer<Atomic<UInt8>>
    private let stop = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    private let background: Bool
    private var next = 0
    private var finished = false

    /// `renderer`, if any, is run on the helper thread after decoding; a batch of fewer than
    /// `minimumBatch` records has no helper thread, and so must have no renderer.
    init(
        _ records: [InputRecord],
        decoder: CommandDecoder,
        partitionCount: Int32?,
        helper: Bool = true,
        thenRender renderer: ResultRenderer? = nil
    ) {
        self.records = records
        self.decoder = decoder
        self.partitionCount = partitionCount
        let n = max(1, records.count)
        slots = .allocate(capacity: n)
        states = .allocate(capacity: n)
        for i in 0..<n { (states + i).initialize(to: Atomic(Self.unclaimed)) }
        background = helper && records.count >= Self.minimumBatch
        precondition(renderer == nil || background, "DecodeAhead: a renderer needs the helper thread")
        if background {
            // A thread of its own, not a dispatch queue: it must run even when every pool
            // thread is busy (Swift Testing fills the pool, for one).
            let thread = Thread { [self] in
                for i in records.indices {
                    if stop.load(ordering: .relaxed) { break }
                    guard
                        states[i].compareExchange(
                            expected: Self.unclaimed,
                            desired: Self.claimed,
                            ordering: .acquiringAndReleasing
                        ).exchanged
                    else { continue }
                    (slots + i).initialize(
                        to: PartitionStore.decode(records[i], decoder: decoder, partitionCount: partitionCount)
                    )
                    states[i].store(Self.ready, ordering: .releasing)
                }
                renderer?.run()
                done.signal()
            }
            thread.name = "agentcore-decode"
            thread.start()
        }
    }

    /// Record `i` decoded. Call with i = 0, 1, 2, … in order, each once.
    func take(_ i: Int) -> Decoded {
        precondition(i == next, "DecodeAhead.take out of order")
        next += 1
        if background {
            if states[i].compareExchange(expected: Self.unclaimed, desired: Self.claimed, ordering: .acquiringAndReleasing)
                .exchanged
            {
                states[i].store(Self.taken, ordering: .relaxed)
            } else {
                // The helper is decoding it or has: wait for it (one record at most).
                var spins = 0
                while states[i].load(ordering: .acquiring) != Self.ready { pause(&spins) }
                states[i].store(Self.taken, ordering: .relaxed)
                return (slots + i).move()
            }
        }
        return PartitionStore.decode(records[i], decoder: decoder, partitionCount: partitionCount)
    }

    /// Tells the helper to stop decoding (it then runs its renderer, if any). Does not wait.
    func stopDecoding() { stop.store(true, ordering: .relaxed) }

    /// Stops the helper, waits for it and frees what it decoded but nobody took. With a
    /// renderer, call its `finish()` or `cancel()` first (the helper runs it until then).
    func finish() {
        guard !finished else { return }
        finished = true
        if background {
            stop.store(true, ordering: .relaxed)
            done.wait()
            for i in records.indices where states[i].load(ordering: .acquiring) == Self.ready {
                (slots + i).deinitialize(count: 1)
            }
        }
        states.deinitialize(count: max(1, records.count))
        states.deallocate()
        slots.deallocate()
    }

    deinit { finish() }
}

/// One step of waiting for the batch's helper thread to finish a record it took (work of
/// microseconds): a few yields, then 20 µs sleeps. On a busy 2-core machine the helper
/// can be descheduled for a whole time slice; yielding all that time burned about 5% of
/// the worker's CPU in the pipeline benchmark.
@inline(__always) func pause(_ spins: inout Int) {
    spins += 1
    if spins < 16 { sched_yield() } else { usleep(20) }
}
