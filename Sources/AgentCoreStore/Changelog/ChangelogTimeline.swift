/// What a stretch of changelog says, read once before anything is applied (the first pass
/// of a restore; see `docs/changelog.md`). Pure: fed entries in offset order, it answers
/// which rows belong in a restored store and where the restored store stands.
///
/// The rules:
/// - A claim is *effective* when its epoch is above every earlier effective claim's; the
///   epoch in force at an offset is that of the last effective claim before it.
/// - A row counts when its epoch is the one in force (rows of older epochs after a newer
///   claim are a zombie's writes); a marker is effective under the same rule.
/// - The restored store is the state at the **last effective marker**: every counting row
///   before it, applied in log order, and that marker's position. Rows after it belong to a
///   unit that never completed (its writer stopped mid-publish) or to a zombie; the next
///   owner re-publishes the current images of their keys (`keysAfterMarker`) right after
///   its claim, so that compaction keeping one of those rows can never leave a wrong value.
public struct ChangelogTimeline: Sendable {
    public struct Marker: Sendable, Equatable {
        public var offset: Int64
        public var epoch: Int64
        public var writer: String
        public var position: ChangelogPosition
    }

    /// Effective claims in log order.
    public private(set) var claims: [(offset: Int64, epoch: Int64, writer: String)] = []
    /// The epoch in force before the first entry read.
    public let startEpoch: Int64
    /// The epoch in force after the last entry read.
    public private(set) var currentEpoch: Int64
    /// The highest epoch named anywhere (a new claim must go above it).
    public private(set) var maxEpoch: Int64
    /// The last effective marker read.
    public private(set) var lastMarker: Marker?
    /// Row keys read after `lastMarker` (all of them, whatever their epoch), with the
    /// offset each was last read at.
    private var rowsAfterMarker: [[UInt8]: Int64] = [:]
    /// Row keys read after `lastMarker`: the next owner publishes them again.
    public var keysAfterMarker: Set<[UInt8]> { Set(rowsAfterMarker.keys) }
    /// Rows that count up to `lastMarker`: what the second pass applies.
    public private(set) var rowsThroughMarker = 0
    /// Writers of the effective markers read.
    public private(set) var markerWriters: Set<String> = []
    /// Offset after the last entry read.
    public private(set) var nextOffset: Int64
    private var countingRows = 0

    public init(startEpoch: Int64, from offset: Int64) {
        self.startEpoch = startEpoch
        self.currentEpoch = startEpoch
        self.maxEpoch = startEpoch
        self.nextOffset = offset
    }

    public mutating func observe(offset: Int64, _ entry: ChangelogEntry) {
        nextOffset = max(nextOffset, offset + 1)
        switch entry {
        case .claim(let epoch, let writer, _, let marker):
            maxEpoch = max(maxEpoch, epoch)
            if epoch > currentEpoch {
                currentEpoch = epoch
                claims.append((offset, epoch, writer))
                // The marker the claimer restored to, in case compaction dropped it for a
                // zombie's later marker of the same key.
                let newest = lastMarker?.offset ?? Int64.min
                if let m = marker, (m.offset < offset) && (newest < m.offset), self.epoch(at: m.offset) == m.epoch {
                    lastMarker = m
                    rowsAfterMarker = rowsAfterMarker.filter { $0.value > m.offset }
                    rowsThroughMarker = countingRows - rowsAfterMarker.count
                }
            }
        case .marker(let epoch, let writer, let position):
            maxEpoch = max(maxEpoch, epoch)
            if epoch == currentEpoch {
                lastMarker = Marker(offset: offset, epoch: epoch, writer: writer, position: position)
                markerWriters.insert(writer)
                rowsAfterMarker.removeAll()
                rowsThroughMarker = countingRows
            }
        case .row(let key, _, let epoch):
            maxEpoch = max(maxEpoch, epoch)
            rowsAfterMarker[key] = offset
            if epoch == currentEpoch { countingRows += 1 }
        }
    }

    /// The epoch in force at `offset`.
    public func epoch(at offset: Int64) -> Int64 {
        let i = firstIndex(count: claims.count) { claims[$0].offset >= offset }
        return i == 0 ? startEpoch : claims[i - 1].epoch
    }

    /// Whether the row at `offset`, written under `epoch`, belongs in the restored store.
    public func applies(offset: Int64, epoch: Int64) -> Bool {
        guard let m = lastMarker, offset < m.offset else { return false }
        return epoch == self.epoch(at: offset)
    }
}

/// The first index in `0..<count` where `isAtOrAfter` holds, for a predicate that is false
/// then true along the indices (a binary search); `count` when it never holds.
func firstIndex(count: Int, where isAtOrAfter: (Int) -> Bool) -> Int {
    var lo = 0
    var hi = count
    while lo < hi {
        let mid = (lo + hi) / 2
        if isAtOrAfter(mid) { hi = mid } else { lo = mid + 1 }
    }
    return lo
}
