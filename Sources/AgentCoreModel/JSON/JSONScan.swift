/// Finds the next byte of a JSON string that needs attention, eight bytes at a time: a
/// quote, a backslash, a control character (below 0x20), and, when `stopAtNonASCII` is
/// set, any byte of 0x80 or above. Context data is mostly long runs of plain text, which
/// a byte-at-a-time loop walked at about a byte per cycle.
enum JSONScan {
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080

    /// Whether any byte of `x` is zero (exact as a yes/no answer).
    @inline(__always) private static func hasZero(_ x: UInt64) -> Bool { (x &- ones) & ~x & highs != 0 }

    /// Whether any byte of `x` needs attention (see the type's comment).
    @inline(__always) static func special(_ x: UInt64, stopAtNonASCII: Bool) -> Bool {
        // A byte below 0x20 with its top bit clear: (b - 0x20) borrows into bit 7.
        let control = (x &- 0x2020_2020_2020_2020) & ~x & highs != 0
        return control || hasZero(x ^ 0x2222_2222_2222_2222) || hasZero(x ^ 0x5C5C_5C5C_5C5C_5C5C)
            || (stopAtNonASCII && x & highs != 0)
    }

    @inline(__always) static func isSpecial(_ b: UInt8, stopAtNonASCII: Bool) -> Bool {
        b < 0x20 || b == 0x22 || b == 0x5C || (stopAtNonASCII && b >= 0x80)
    }

    /// The index of the first byte at or after `from` that needs attention, or `bytes.count`.
    @inline(__always)
    static func next(in bytes: UnsafeBufferPointer<UInt8>, from: Int, stopAtNonASCII: Bool) -> Int {
        var i = from
        let n = bytes.count
        if let base = bytes.baseAddress {
            let raw = UnsafeRawPointer(base)
            while i + 8 <= n {
                let word = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                if special(word, stopAtNonASCII: stopAtNonASCII) { break }
                i += 8
            }
        }
        while i < n && !isSpecial(bytes[i], stopAtNonASCII: stopAtNonASCII) { i += 1 }
        return i
    }
}
