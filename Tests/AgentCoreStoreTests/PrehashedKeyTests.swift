import AgentCoreModel
import Testing

@testable import AgentCoreStore

@Suite struct PrehashedKeyTests {
    /// Keys that differ only where a separator could hide the difference stay distinct,
    /// and every key inserted is found again (the precomputed hash spreads them).
    @Test func headKeysAreTheirWholeText() {
        let a = HeadKey(workspace: "w", project: "p", instanceId: "a\u{0}b", name: "c")
        let b = HeadKey(workspace: "w", project: "p", instanceId: "a", name: "b\u{0}c")
        #expect(a.text == b.text)  // the text alone is ambiguous here…
        #expect(a == b)  // …and so is the key: both name the same cache slot, as before
        let c = HeadKey(workspace: "w", project: "p", instanceId: "a", name: "c")
        #expect(a != c)
        var cache: [HeadKey: Int] = [:]
        for i in 0..<20_000 { cache[HeadKey(workspace: "ws", project: "p", instanceId: "i\(i % 100)", name: "c\(i)")] = i }
        #expect(cache.count == 20_000)
        for i in stride(from: 0, to: 20_000, by: 7) {
            #expect(cache[HeadKey(workspace: "ws", project: "p", instanceId: "i\(i % 100)", name: "c\(i)")] == i)
        }
    }

    /// Keys that share their low bits (the bits a small table buckets by) are still told
    /// apart and found.
    @Test func commandKeysWithEqualLowBits() throws {
        let index = CommandIndex(window: 20_000)
        for i in 0..<10_000 { try index.remember(hkey: Int64(i) << 32, seq: Int64(i)) }
        #expect(index.count == 10_000)
        for i in 0..<10_000 { #expect(index.seq(of: Int64(i) << 32) == Int64(i)) }
        #expect(index.seq(of: 1) == nil)
    }

    /// The index against a plain model (every remembered key → its latest seq, forgotten
    /// once a window or more behind the latest seq), through gaps of rows without a command
    /// id, keys remembered again, the ring wrapping many times, a jump past the whole
    /// window, and keys colliding in the table (few distinct low bits).
    @Test func commandIndexMatchesAModel() throws {
        var rng = SplitMix64(seed: 7)
        for window in [1, 2, 7, 64, 1_000] {
            let index = CommandIndex(window: window)
            var latest: [Int64: Int64] = [:]
            var seq: Int64 = 0
            for _ in 0..<20_000 {
                let r = rng.next() % 100
                seq += r < 70 ? 1 : r < 95 ? Int64(1 + rng.next() % 5) : r < 99 ? Int64(rng.next() % UInt64(window + 2)) + 1 : Int64(window) * 3
                // Keys: a few hundred, many sharing low bits, some reused.
                let hkey = Int64(bitPattern: (rng.next() % 400) << 40 | (rng.next() % 3))
                try index.remember(hkey: hkey, seq: seq)
                latest[hkey] = seq
                if rng.next() % 50 == 0 {
                    for (k, s) in latest {
                        let expected: Int64? = s > seq - Int64(window) ? s : nil
                        #expect(index.seq(of: k) == expected, "window \(window), key \(k), seq \(s), now \(seq)")
                    }
                    let live = latest.values.filter { $0 > seq - Int64(window) }.count
                    #expect(index.count == live, "window \(window)")
                }
            }
            index.removeAll()
            #expect(index.count == 0 && latest.keys.allSatisfy { index.seq(of: $0) == nil })
        }
    }

    /// A seq that does not rise is an error of the batch, not a crash of the worker.
    @Test func commandIndexRefusesASeqThatDoesNotRise() throws {
        let index = CommandIndex(window: 10)
        try index.remember(hkey: 1, seq: 5)
        #expect(throws: StoreError.self) { try index.remember(hkey: 2, seq: 5) }
        #expect(index.seq(of: 1) == 5 && index.seq(of: 2) == nil)
    }
}
