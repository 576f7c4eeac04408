import Foundation

/// The store's memory of recent command ids: idempotency key (`Prepared.hkey`, a hash of
/// workspace and command id) → the `results` row that answered it, for the last `window`
/// rows (`StoreOptions.idempotencyRetention`).
///
/// Sized for the window, not for what was applied: a ring of `window` keys indexed by
/// `seq % window` (8 bytes a row) and an open-addressing table of ring slots (4 bytes a
/// bucket, at most half full), about 18 bytes a remembered id against about 80 for a
/// `Dictionary` beside an ordered list of entries (that was 9 MiB per partition once full,
/// 70 MiB for 8 partitions). A row's seq is not stored: a slot holds the latest seq with that
/// remainder, and slots whose row had no command id are cleared as the ring moves past them.
/// The ring is allocated zeroed (its pages become resident as rows are written) and the
/// table grows with the ids held, so a partition that remembered few ids keeps little
/// resident.
///
/// Not thread safe: the applying thread's.
final class CommandIndex {
    let window: Int
    /// ring[seq % window]: the key of row seq (meaningful only where a table bucket points).
    private let ring: UnsafeMutablePointer<Int64>
    /// Buckets: 0 empty, else ring slot + 1. Linear probing, deletion by backward shift.
    private var table: UnsafeMutablePointer<UInt32>
    private var mask: Int
    private(set) var count = 0
    /// The highest seq remembered; slots above it (mod window) hold older rows until the
    /// ring passes them.
    private var lastSeq: Int64 = -1

    init(window: Int) {
        precondition(window > 0 && window < Int(UInt32.max), "command index window \(window)")
        self.window = window
        ring = calloc(window, MemoryLayout<Int64>.stride)!.bindMemory(to: Int64.self, capacity: window)
        mask = 1023
        table = Self.allocateTable(mask + 1)
    }

    deinit {
        free(ring)
        free(table)
    }

    private static func allocateTable(_ n: Int) -> UnsafeMutablePointer<UInt32> {
        calloc(n, MemoryLayout<UInt32>.stride)!.bindMemory(to: UInt32.self, capacity: n)
    }

    @inline(__always) private func home(_ hkey: Int64) -> Int { mixHash(UInt64(bitPattern: hkey)) & mask }

    /// The bucket whose slot holds `hkey`, if any.
    @inline(__always) private func find(_ hkey: Int64) -> Int? {
        var b = home(hkey)
        while true {
            let e = table[b]
            if e == 0 { return nil }
            if ring[Int(e - 1)] == hkey { return b }
            b = (b + 1) & mask
        }
    }

    /// The seq of the latest row remembered for `hkey`, if it is within the window.
    func seq(of hkey: Int64) -> Int64? {
        guard let b = find(hkey) else { return nil }
        let slot = Int64(table[b] - 1)
        let w = Int64(window)
        return lastSeq - ((lastSeq % w - slot + w) % w)
    }

    /// Remembers that row `seq` answered `hkey`. Seqs must rise from call to call; rows in
    /// between (without a command id) and rows a window or more older are forgotten. A seq
    /// that does not rise throws: the batch fails (its partition alone), and the index is
    /// rebuilt from the table before the next one (`discardBatchCaches`).
    func remember(hkey: Int64, seq: Int64) throws {
        guard seq > lastSeq else { throw StoreError("internal", "command index: results row \(seq) remembered after row \(lastSeq)") }
        let w = Int64(window)
        if lastSeq >= 0, seq - lastSeq <= w {
            var s = lastSeq + 1
            while s <= seq {
                forgetSlot(Int(s % w))
                s += 1
            }
        } else if lastSeq >= 0 {
            removeAll()
        }
        lastSeq = seq
        let slot = Int(seq % w)
        if let b = find(hkey) {
            // A later row for the same key: the bucket moves to it (the older slot keeps the
            // key, but no bucket points there any more).
            ring[slot] = hkey
            table[b] = UInt32(slot + 1)
            return
        }
        ring[slot] = hkey
        if (count + 1) * 2 > mask + 1 { grow() }
        var b = home(hkey)
        while table[b] != 0 { b = (b + 1) & mask }
        table[b] = UInt32(slot + 1)
        count += 1
    }

    /// Forgets everything.
    func removeAll() {
        memset(table, 0, (mask + 1) * MemoryLayout<UInt32>.stride)
        count = 0
        lastSeq = -1
    }

    /// Drops the bucket pointing at `slot` (its row leaves the window), if there is one.
    private func forgetSlot(_ slot: Int) {
        guard count > 0, var b = find(ring[slot]), table[b] == UInt32(slot + 1) else { return }
        // Backward-shift deletion: move later entries of the run into the hole when their
        // home is not between the hole and themselves.
        var next = (b + 1) & mask
        while table[next] != 0 {
            let h = home(ring[Int(table[next] - 1)])
            let inRange = b <= next ? (b < h && h <= next) : (b < h || h <= next)
            if !inRange {
                table[b] = table[next]
                b = next
            }
            next = (next + 1) & mask
        }
        table[b] = 0
        count -= 1
    }

    private func grow() {
        let old = table
        let oldSize = mask + 1
        mask = oldSize * 2 - 1
        table = Self.allocateTable(mask + 1)
        for i in 0..<oldSize where old[i] != 0 {
            var b = home(ring[Int(old[i] - 1)])
            while table[b] != 0 { b = (b + 1) & mask }
            table[b] = old[i]
        }
        free(old)
    }
}
