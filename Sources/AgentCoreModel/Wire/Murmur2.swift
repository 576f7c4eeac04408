/// Kafka's murmur2 partitioner (Java's default, librdkafka's `murmur2_random` for non-null
/// keys). Every producer must use it so one workspace always lands on one partition.
public enum Murmur2 {
    public static func hash(_ data: [UInt8]) -> UInt32 {
        let seed: UInt32 = 0x9747_b28c
        let m: UInt32 = 0x5bd1_e995
        let r: UInt32 = 24
        let length = data.count
        var h: UInt32 = seed ^ UInt32(truncatingIfNeeded: length)
        let length4 = length / 4
        for i in 0..<length4 {
            let i4 = i * 4
            var k = UInt32(data[i4]) | UInt32(data[i4 + 1]) << 8 | UInt32(data[i4 + 2]) << 16 | UInt32(data[i4 + 3]) << 24
            k = k &* m
            k ^= k >> r
            k = k &* m
            h = h &* m
            h ^= k
        }
        let tail = length4 * 4
        switch length % 4 {
        case 3:
            h ^= UInt32(data[tail + 2]) << 16
            fallthrough
        case 2:
            h ^= UInt32(data[tail + 1]) << 8
            fallthrough
        case 1:
            h ^= UInt32(data[tail])
            h = h &* m
        default: break
        }
        h ^= h >> 13
        h = h &* m
        h ^= h >> 15
        return h
    }

    /// The partition Java's and librdkafka's murmur2 partitioners choose for `key`.
    public static func partition(forKey key: [UInt8], partitionCount: Int32) -> Int32 {
        Int32((hash(key) & 0x7fff_ffff) % UInt32(partitionCount))
    }

    public static func partition(forKey key: String, partitionCount: Int32) -> Int32 {
        partition(forKey: Array(key.utf8), partitionCount: partitionCount)
    }
}

/// FNV-1a 64: a small stable hash for derived ids and index keys (not for security).
public enum FNV1a64 {
    public static func hash(_ parts: [String]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for (i, part) in parts.enumerated() {
            if i > 0 {
                h ^= 0
                h = h &* 0x100_0000_01b3
            }
            for b in part.utf8 {
                h ^= UInt64(b)
                h = h &* 0x100_0000_01b3
            }
        }
        return h
    }

    public static func hex(_ parts: [String]) -> String {
        let s = String(hash(parts), radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
