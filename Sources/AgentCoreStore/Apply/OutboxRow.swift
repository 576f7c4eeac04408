import AgentCoreModel

/// A results row's records in publishable form: the row's plain bytes (lines of `topic TAB
/// id TAB key-hex TAB value`, see `PartitionStore.encodeResult`) and where each record's
/// fields lie in them. Publishing hands librdkafka slices of this one buffer (it copies
/// them), where it used to build an array for each value, key and event id.
public struct OutboxRow: Sendable {
    /// The row's `results` seq.
    public internal(set) var seq: Int64
    let plain: [UInt8]
    let slots: [Slot]

    /// One record of the row: its fields as ranges of `plain` (the key as hex, nil for `-`).
    struct Slot: Sendable, Equatable {
        var topic: OutputTopic
        var id: Range<Int>
        var keyHex: Range<Int>?
        var value: Range<Int>
    }

    /// Records in the row.
    public var count: Int { slots.count }
    /// The row's plain size (what it holds in memory).
    public var byteCount: Int { plain.count }

    /// A row read back from its plain bytes (a stored row, decompressed). Throws
    /// `corrupt_store` for anything `encodeResult` does not write.
    init(seq: Int64, plain: [UInt8]) throws {
        self.seq = seq
        self.plain = plain
        slots = try plain.withUnsafeBufferPointer { try Self.parse($0, row: seq) }
    }

    init(seq: Int64, plain: [UInt8], slots: [Slot]) {
        self.seq = seq
        self.plain = plain
        self.slots = slots
    }

    private static func parse(_ b: UnsafeBufferPointer<UInt8>, row seq: Int64) throws -> [Slot] {
        func malformed() -> StoreError { StoreError("corrupt_store", "results row \(seq) is malformed") }
        func field(from start: Int, to end: Int) throws -> Int {
            var i = start
            while i < end && b[i] != 0x09 { i += 1 }
            guard i < end else { throw malformed() }
            return i
        }
        var slots: [Slot] = []
        let n = b.count
        var i = 0
        while i < n {
            if b[i] == 0x0A {
                i += 1
                continue
            }
            var end = i
            while end < n && b[end] != 0x0A { end += 1 }
            let t1 = try field(from: i, to: end)
            let t2 = try field(from: t1 + 1, to: end)
            let t3 = try field(from: t2 + 1, to: end)
            let name = UnsafeBufferPointer(rebasing: b[i..<t1])
            guard let topic = OutputTopic.allCases.first(where: { $0.rawValue.utf8.elementsEqual(name) }) else { throw malformed() }
            var keyHex: Range<Int>? = (t2 + 1)..<t3
            if t3 - t2 == 2 && b[t2 + 1] == UInt8(ascii: "-") {
                keyHex = nil
            } else {
                guard (t3 - t2 - 1) % 2 == 0, b[(t2 + 1)..<t3].allSatisfy(Self.isHexDigit) else {
                    throw StoreError("corrupt_store", "results row \(seq) has a bad key")
                }
            }
            slots.append(Slot(topic: topic, id: (t1 + 1)..<t2, keyHex: keyHex, value: (t3 + 1)..<end))
            i = end + 1
        }
        return slots
    }

    private static func isHexDigit(_ c: UInt8) -> Bool { (0x30...0x39).contains(c) || (0x61...0x66).contains(c) }

    private static func nibble(_ c: UInt8) -> UInt8 { c <= 0x39 ? c - 0x30 : c - 0x61 + 10 }

    /// Calls `body` with each record's topic, key (nil: none), value and event id, as
    /// buffers valid during the call, in order.
    public func forEachRecord(
        _ body: (OutputTopic, UnsafeRawBufferPointer?, UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void
    ) rethrows {
        try plain.withUnsafeBytes { bytes in
            for s in slots {
                let value = UnsafeRawBufferPointer(rebasing: bytes[s.value])
                let id = UnsafeRawBufferPointer(rebasing: bytes[s.id])
                guard let hex = s.keyHex else {
                    try body(s.topic, nil, value, id)
                    continue
                }
                // Keys are workspace ids (at most `Limits` allows, short): decoded on the stack.
                try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(1, hex.count / 2)) { key in
                    var j = 0
                    var k = hex.lowerBound
                    while k < hex.upperBound {
                        key[j] = Self.nibble(bytes[k]) << 4 | Self.nibble(bytes[k + 1])
                        j += 1
                        k += 2
                    }
                    try body(s.topic, UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: key[0..<j])), value, id)
                }
            }
        }
    }

    /// The row's records as values of their own.
    public var records: [OutboxRecord] {
        var out: [OutboxRecord] = []
        out.reserveCapacity(slots.count)
        forEachRecord { topic, key, value, id in
            out.append(
                OutboxRecord(
                    seq: seq,
                    topic: topic,
                    key: key.map { Array($0) },
                    value: Array(value),
                    eventId: String(decoding: id, as: UTF8.self)
                )
            )
        }
        return out
    }

    /// The row's records as outputs (a repeated command's answer).
    var outputs: [Outgoing] {
        records.map { Outgoing(topic: $0.topic, key: $0.key, value: $0.value, eventId: $0.eventId) }
    }
}
