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
enum Decoded: Sendable {
    case deadLetter(DeadLetterError)
    case command(CommandEnvelope, Result<Command, CommandRejection>, replica: Bool, prepared: Prepared)
}

/// What can be worked out from a command alone, done while decoding (off the applying thread).
struct Prepared: Sendable {
    /// Idempotency key: hash of workspace and command id.
    var hkey: Int64
    /// The canonical bytes of a `replace` write's data (the command then carries `.null`
    /// as its data, so that the parse tree is freed where it was built).
    var canonicalData: [UInt8]?
}

/// Decodes a batch's records on another thread, ahead of the thread applying them.
/// Decoding depends only on each record's bytes, so it runs beside the SQLite work of the
/// records before it instead of before it (it was about an eighth of apply time). The
/// result is the same as decoding in line: `take(i)` waits for record `i`.
///
/// Small batches are decoded in line (handing them to another thread costs more).
final class DecodeAhead: @unchecked Sendable {
    static let minimumBatch = 32

    private let records: [InputRecord]
    private let decoder: CommandDecoder
    private let partitionCount: Int32?
    private let slots: UnsafeMutablePointer<Decoded>
    /// Slots written by the background thread (release) and read by `take` (acquire).
    private let ready = Atomic<Int>(0)
    private let stop = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    private let background: Bool
    private var taken = 0
    private var finished = false

    init(_ records: [InputRecord], decoder: CommandDecoder, partitionCount: Int32?) {
        self.records = records
        self.decoder = decoder
        self.partitionCount = partitionCount
        slots = .allocate(capacity: max(1, records.count))
        background = records.count >= Self.minimumBatch
        if background {
            // A thread of its own, not a dispatch queue: `take` waits for it, so it must run
            // even when every pool thread is busy (Swift Testing fills the pool, for one).
            let thread = Thread { [self] in
                for i in records.indices {
                    if stop.load(ordering: .relaxed) { break }
                    (slots + i).initialize(
                        to: PartitionStore.decode(records[i], decoder: decoder, partitionCount: partitionCount))
                    ready.store(i + 1, ordering: .releasing)
                }
                done.signal()
            }
            thread.name = "agentcore-decode"
            thread.start()
        }
    }

    /// Record `i` decoded. Call with i = 0, 1, 2, … in order, each once.
    func take(_ i: Int) -> Decoded {
        precondition(i == taken, "DecodeAhead.take out of order")
        taken += 1
        guard background else { return PartitionStore.decode(records[i], decoder: decoder, partitionCount: partitionCount) }
        while ready.load(ordering: .acquiring) <= i { sched_yield() }
        return (slots + i).move()
    }

    /// Stops the background thread, waits for it and frees what it decoded but nobody took.
    func finish() {
        guard !finished else { return }
        finished = true
        if background {
            stop.store(true, ordering: .relaxed)
            done.wait()
            let written = ready.load(ordering: .acquiring)
            if written > taken { (slots + taken).deinitialize(count: written - taken) }
        }
        slots.deallocate()
    }

    deinit { finish() }
}
